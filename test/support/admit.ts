// What a worker asks a GroupGate for a carpool's key, for tests that call the gate directly.
import type { AdmitRequest } from '../../durable-objects/group-gate';
import type { Carpool } from './relay';

/** A Claude request of the carpool's key, with no limits unless given. */
export function admitRequest(
  carpool: Pick<Carpool, 'groupId' | 'keyId' | 'userId'>,
  leaseId: string,
  limits: Partial<AdmitRequest['limits']> = {},
): AdmitRequest {
  return {
    groupId: carpool.groupId,
    keyId: carpool.keyId,
    leaseId,
    model: 'claude-sonnet-4-5',
    providers: ['anthropic'],
    native: ['anthropic'],
    sessionKey: null,
    limits: { maxConcurrency: null, requestsPerWindow: null, windowMinutes: null, ...limits },
    userId: carpool.userId,
    reserveMicros: 0,
    service: 'anthropic',
    userAgent: null,
  };
}
