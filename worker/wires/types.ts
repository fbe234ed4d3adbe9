// A wire format (Anthropic Messages, OpenAI Chat Completions, OpenAI Responses, Gemini): how its
// bodies are metered and how a stream in it ends with an error. Providers speak one or more wires.
import type { Meter } from '../metering/meter';
import type { UpstreamFailure, Wire } from '../providers/types';

export interface WireFormat {
  readonly wire: Wire;
  /** A meter for a successful response body in this wire. */
  meter(stream: boolean): Meter;
  /** An error event inside a 200 stream (e.g. Anthropic's `overloaded_error`), before any content. */
  classifyStreamError(errorType: string): UpstreamFailure;
  /** Bytes that end a stream in this wire properly after the upstream failed mid-way. */
  streamErrorTail(message: string): Uint8Array;
}
