// SigV4 (signing name `bedrock`, for the runtime and the control plane alike) over a request the
// adapter has fully built, via aws4fetch's signer.
import { AwsV4Signer } from 'aws4fetch';
import type { BedrockCredentials } from './credentials';

export interface UnsignedRequest {
  method: 'GET' | 'POST';
  url: string;
  headers: Headers;
  body: string | null;
}

/** `20250102T030405Z`: the basic ISO 8601 form SigV4 signs. */
export function amzDate(date: Date): string {
  return date.toISOString().replace(/[:-]|\.\d{3}/g, '');
}

export async function signRequest(
  request: UnsignedRequest,
  credentials: BedrockCredentials,
  now: Date,
): Promise<Request> {
  const signer = new AwsV4Signer({
    method: request.method,
    url: request.url,
    headers: request.headers,
    body: request.body ?? undefined,
    accessKeyId: credentials.accessKeyId,
    secretAccessKey: credentials.secretAccessKey,
    sessionToken: credentials.sessionToken,
    service: 'bedrock',
    region: credentials.region,
    datetime: amzDate(now),
  });
  const signed = await signer.sign();
  return new Request(signed.url.toString(), {
    method: signed.method,
    headers: signed.headers,
    body: request.body,
  });
}
