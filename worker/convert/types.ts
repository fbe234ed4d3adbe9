// Format conversion between a client's wire and an account's wire (e.g. Claude Code served by an
// OpenAI-compatible account). Metering always reads the upstream's own wire, before conversion.
import type { JsonObject } from '../json';
import type { Wire } from '../providers/types';

export type { JsonObject } from '../json';

/** What the client asked of the converted stream that its request body carried but the upstream's did not. */
export interface ResponseStreamOptions {
  /** An OpenAI client sent `stream_options: {include_usage: true}`: end with a usage chunk. */
  includeUsage?: boolean;
}

export interface Conversion {
  /** The client's wire. */
  readonly from: Wire;
  /** The upstream account's wire. */
  readonly to: Wire;
  /**
   * Why this conversion cannot carry the request, naming the field, or null. A field whose loss
   * would change what the client gets back (several choices, log probabilities, enforced JSON,
   * audio) is refused rather than dropped; sampling hints the upstream lacks are dropped.
   */
  refusal(body: JsonObject): string | null;
  /** Client request body → upstream request body; `model` is the upstream model name. */
  request(body: JsonObject, model: string): JsonObject;
  /**
   * Upstream SSE bytes → client SSE bytes, incrementally, never holding more than a partial event.
   * A conversion is shared by all requests, so per-request wishes come in `options`
   * (read them from the client body with `responseStreamOptions`).
   */
  responseStream(
    clientModel: string,
    options?: ResponseStreamOptions,
  ): TransformStream<Uint8Array, Uint8Array>;
  /** Upstream non-stream JSON body → client JSON body. */
  responseBody(body: unknown, clientModel: string): unknown;
  /** Upstream error (status and parsed JSON body, or null) → client error JSON body. */
  errorBody(status: number, body: unknown): unknown;
}
