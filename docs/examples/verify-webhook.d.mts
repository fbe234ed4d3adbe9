// Types of verify-webhook.mjs, for the test that runs the documented recipe as it is.
export function verifyCarpoolSignature(
  secret: string,
  header: string | null | undefined,
  rawBody: string,
  options?: { toleranceSeconds?: number; now?: number },
): Promise<boolean>;
