// One webhook format: how an alert event becomes the body a chat tool or a receiver expects, the
// vendor's own signing when it has one, and how to tell its "accepted" from its errors.
import type { AlertEvent } from '../event';

export type Body = Record<string, unknown>;

export interface WebhookFormat {
  body(event: AlertEvent): Body;
  /**
   * Signs the way the vendor's bot verifies, with the secret the bot shows (Feishu/Lark and
   * DingTalk): by adding fields to the body or parameters to the URL. Absent: the vendor has none.
   */
  vendorSign?(request: { url: URL; body: Body }, secret: string, nowMs: number): Promise<void>;
  /**
   * Some vendors answer 200 with an error code in the body (a bad signature, a revoked bot): the
   * error in words, or null when the body says it was accepted. Absent: a 2xx is acceptance.
   */
  rejection?(responseBody: string): string | null;
}

/** One line saying where an alert comes from, for footers. */
export function footer(event: AlertEvent): string {
  return `AiCarpool · ${event.type} · ${event.status}`;
}

/** The colour of a severity (a resolved alert is green whatever its severity). */
export function tone(event: AlertEvent): 'critical' | 'warning' | 'info' | 'resolved' {
  return event.status === 'resolved' ? 'resolved' : event.severity;
}

/** Reads `{errcode, errmsg}` (DingTalk, WeCom) or `{code, msg}` (Feishu/Lark) answers. */
export function vendorError(responseBody: string, codeKey: string, messageKey: string): string | null {
  let parsed: unknown;
  try {
    parsed = JSON.parse(responseBody);
  } catch {
    return `the answer is not JSON: ${responseBody.slice(0, 200)}`;
  }
  if (typeof parsed !== 'object' || parsed === null) return 'the answer is not a JSON object';
  const record = parsed as Record<string, unknown>;
  const code = record[codeKey];
  if (code === 0) return null;
  return `${codeKey} ${String(code)}: ${String(record[messageKey] ?? '').slice(0, 200)}`;
}
