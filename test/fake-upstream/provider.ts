// What each provider wire format (anthropic.ts, openai.ts, azure.ts, gemini.ts, bedrock.ts) supplies to the generic fake.
import type { Reply } from './reply';
import type { Answer, Failure } from './scenarios';

/** One upstream request as a provider sees it: already read, recorded and given a request id. */
export interface UpstreamCall {
  readonly requestId: string;
  readonly method: string;
  readonly url: URL;
  readonly headers: Headers;
  readonly body: string;
  readonly bodyBytes: number;
}

export interface Provider {
  /** Whether the request (host, path, and for shared paths its headers) is one of this provider's endpoints. */
  claims(request: Request, url: URL): boolean;
  newRequestId(): string;
  /** The API key as this provider's clients send it, or null when absent or malformed. */
  credential(request: Request, url: URL): string | null;
  /**
   * A reply the provider's front door gives before it looks at the key (Azure answers a URL without
   * `api-version` with a 404 whatever the key), or null to go on.
   */
  refuse?(call: UpstreamCall): Reply | null;
  /** An error response in the provider's envelope. */
  failure(call: UpstreamCall, failure: Failure): Reply;
  /** A successful exchange as the scenario shapes it; unknown paths and unparsable bodies still fail. */
  answer(call: UpstreamCall, answer: Answer): Reply;
}
