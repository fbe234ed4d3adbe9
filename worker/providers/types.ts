// The one interface every upstream provider adapter implements. Shared code (the pipeline, the
// scheduler) talks only to this; provider quirks stay in the provider's folder.
import type { Account } from '../db/schema';
import type { UsageWindow } from '../oauth/windows';
import type { HeaderPolicy } from './headers';

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

/** The wire formats the relay speaks, with clients and with upstreams. */
export type Wire = 'anthropic' | 'openai-chat' | 'openai-responses' | 'gemini';

/** What is being asked of the upstream, independent of its URL layout. */
export interface Operation {
  wire: Wire;
  kind: 'generate' | 'count_tokens' | 'models';
  /** The upstream model (after the account's mapping); empty for `models`. */
  model: string;
  stream: boolean;
  /**
   * The client's query string. An adapter forwards only the parameters its API defines for the
   * operation (Anthropic's `?beta=true`), never the rest: a Gemini client's `?key=` among them.
   */
  search: string;
}

export interface UpstreamCall {
  account: UpstreamAccount;
  credential: string;
  operation: Operation;
  method: string;
  clientHeaders: Headers;
  /** Already in the upstream's wire format. */
  body: ArrayBuffer | null;
}

/** How an upstream attempt failed, as the scheduler sees it. */
export type UpstreamFailure =
  | { kind: 'rate_limited'; status: number; retryAfterMs: number | null }
  | { kind: 'overloaded'; status: number }
  /**
   * `outOfCredit`: the account's balance or quota is spent (a top-up fixes it, waiting does not).
   * It fails over and cools down like any 5xx; the member is not shown the upstream's words, which
   * read as their own budget being spent.
   */
  | { kind: 'server_error'; status: number; outOfCredit?: true }
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
  /** The wires this provider serves natively, preferred first. */
  readonly wires: readonly Wire[];
  /**
   * The model family an account of this kind serves unless its `supportedModels` says otherwise,
   * as model patterns (`worker/scheduling/models.ts`). Empty for the compatible kinds: what they
   * serve depends on the vendor, named by its preset (`compatible/index.ts`).
   */
  readonly models: readonly string[];
  /** The headers allowed across the relay, each way (`headers.ts`); nothing else crosses. */
  readonly headers: HeaderPolicy;
  buildRequest(call: UpstreamCall): Request | Promise<Request>;
  /**
   * The response body in its wire's standard form, for providers that frame it otherwise
   * (Bedrock's binary event stream becomes Anthropic SSE). Absent: the body is used as it is.
   */
  decodeBody?(response: Response, operation: Operation): ReadableStream<Uint8Array>;
  /**
   * For providers that serve only streams (the ChatGPT backend refuses `stream: false`), which
   * `buildRequest` asks streamed even for a non-streamed operation: the one body the client asked
   * for, read off the stream once it ended, with the status its ending says. A failed or cut
   * stream is an error status here, so the scheduler classifies it (and fails over) like any other.
   * Called for successful non-streamed answers only. Absent: the response is used as it is.
   */
  wholeAnswer?(response: Response, operation: Operation): Promise<Response>;
  classifyError(status: number, headers: Headers): ErrorClass;
  /**
   * For providers whose status alone misleads (Gemini answers a bad API key with 400, and puts a
   * 429's retry delay in the body): refines a `client_error` or a `rate_limited` from the small
   * error body. Null keeps the first answer.
   */
  refineError?(classified: ErrorClass, body: string): ErrorClass | null;
  /**
   * A subscription's usage windows, read off a response's headers (worker/oauth/windows.ts);
   * absent for providers without them. The account's gate keeps them and schedules by them.
   */
  usageWindows?(headers: Headers): UsageWindow[];
  /**
   * The request that tells whether a credential works, for providers that serve no model list
   * (the ChatGPT backend of Codex subscriptions). Absent: the model list (`models`).
   */
  probeRequest?(account: UpstreamAccount, credential: string): Request | Promise<Request>;
}
