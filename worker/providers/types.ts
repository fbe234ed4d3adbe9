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

/** How an upstream attempt failed, as the scheduler sees it. */
export type UpstreamFailure =
  | { kind: 'rate_limited'; status: number; retryAfterMs: number | null }
  | { kind: 'overloaded'; status: number }
  | { kind: 'server_error'; status: number }
  | { kind: 'timeout' }
  | { kind: 'connect_failed' }
  | { kind: 'auth_failed'; status: number }
  /** Failed after content had flowed: counted, but no cooldown (the account did serve). */
  | { kind: 'stream_failed' };

/** An upstream error status: a failure of the account, or the client's own mistake (not retried). */
export type ErrorClass = UpstreamFailure | { kind: 'client_error'; status: number };

export interface ProviderAdapter {
  readonly kind: ProviderKind;
  readonly defaultBaseUrl: string;
  buildRequest(call: UpstreamCall): Request;
  /** A meter for a successful response body, by its shape. */
  meter(stream: boolean): Meter;
  classifyError(status: number, headers: Headers): ErrorClass;
  /** An error event inside a 200 stream (e.g. Anthropic's `overloaded_error`), before any content. */
  classifyStreamError(errorType: string): UpstreamFailure;
  /** Bytes that end a stream in this provider's dialect after the upstream failed mid-way. */
  streamErrorTail(message: string): Uint8Array;
}
