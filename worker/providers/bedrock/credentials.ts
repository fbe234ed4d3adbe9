// A Bedrock account's decrypted credential: an IAM access key (optionally temporary, with a
// session token) and the region whose endpoint it calls.
import * as z from 'zod';

export const bedrockCredentialsSchema = z.strictObject({
  accessKeyId: z.string().min(1),
  secretAccessKey: z.string().min(1),
  sessionToken: z.string().min(1).optional(),
  // The region becomes part of a hostname, so only region-shaped names get there.
  region: z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d+$/, 'not an AWS region such as us-east-1'),
});

export type BedrockCredentials = z.infer<typeof bedrockCredentialsSchema>;

const FORMAT = '{"accessKeyId","secretAccessKey","sessionToken"?,"region"}';

export function parseBedrockCredentials(credential: string): BedrockCredentials {
  let json: unknown;
  try {
    json = JSON.parse(credential);
  } catch {
    throw new Error(`Bedrock credentials must be JSON ${FORMAT}`);
  }
  const parsed = bedrockCredentialsSchema.safeParse(json);
  if (!parsed.success) {
    // Field names and reasons only: the input holds a secret and this message may be logged.
    const problems = parsed.error.issues
      .map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`)
      .join('; ');
    throw new Error(`Bedrock credentials must be JSON ${FORMAT} (${problems})`);
  }
  return parsed.data;
}
