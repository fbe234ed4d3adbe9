// The one interface every upstream provider adapter implements. Shared code (the pipeline, the
// scheduler) talks only to this; provider quirks stay in the provider's folder.
import type { Account } from '../db/schema';
import type { Meter } from '../metering/meter';

export type ProviderKind = Account['provider'];

/** What the relay knows about the account it is about to call (from AccountGate). */
export interface UpstreamAccount {
  id: string;
  provider: ProviderKind;
  authKind: Account['authKind'];
  baseUrl: string | null;
  credentialsEnc: string;
  modelMapping: Record<string, string> | null;
}

export interface UpstreamCall {
  account: UpstreamAccount;
  credential: string;
  /** Path on the provider's API, e.g. `/v1/messages`. */
  path: string;
  method: string;
  clientHeaders: Headers;
  body: ArrayBuffer | null;
}

/** How the scheduler should treat an upstream failure. */
export type ErrorClass =
  | { kind: 'rate_limited'; retryAfterMs: number | null }
  | { kind: 'overloaded' }
  | { kind: 'server_error' }
  | { kind: 'auth_failed' }
  | { kind: 'client_error' };

export interface ProviderAdapter {
  readonly kind: ProviderKind;
  readonly defaultBaseUrl: string;
  buildRequest(call: UpstreamCall): Request;
  /** A meter for a successful response body, by its shape. */
  meter(stream: boolean): Meter;
  classifyError(status: number, headers: Headers): ErrorClass;
}
