// Webhook signatures. Ours, sent to every endpoint whatever its format:
//   X-Carpool-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>
// (docs/alerts.md has the receiver's recipe), and the vendors' own, for bots that verify them:
// Feishu/Lark's `timestamp` + `sign` body fields and DingTalk's `timestamp` + `sign` URL query.
import { toHex } from '../auth/api-key';
import { bytesToBase64 } from '../auth/credentials';

export const SIGNATURE_HEADER = 'x-carpool-signature';
export const EVENT_HEADER = 'x-carpool-event';
export const DELIVERY_HEADER = 'x-carpool-delivery';

const encoder = new TextEncoder();

async function hmacSha256(key: string, message: string): Promise<Uint8Array> {
  const cryptoKey = await crypto.subtle.importKey(
    'raw',
    encoder.encode(key),
    { name: 'HMAC', hash: 'SHA-256' },
    false,
    ['sign'],
  );
  return new Uint8Array(await crypto.subtle.sign('HMAC', cryptoKey, encoder.encode(message)));
}

/** Our signature header's value for `body` sent at `unixSeconds`. */
export async function carpoolSignature(secret: string, unixSeconds: number, body: string): Promise<string> {
  return `t=${unixSeconds},v1=${toHex(await hmacSha256(secret, `${unixSeconds}.${body}`))}`;
}

/**
 * Feishu/Lark custom bot signing: the key is `timestamp + "\n" + secret`, the message is empty,
 * the result base64; `timestamp` is in seconds and both go into the JSON body.
 * https://open.feishu.cn/document/client-docs/bot-v3/add-custom-bot
 */
export async function feishuSign(secret: string, unixSeconds: number): Promise<string> {
  return bytesToBase64(await hmacSha256(`${unixSeconds}\n${secret}`, ''));
}

/**
 * DingTalk custom robot signing: HMAC-SHA256 with the secret as key over `timestamp + "\n" +
 * secret`, base64, then URL-encoded into the query with `timestamp` (milliseconds).
 * https://open.dingtalk.com/document/robots/customize-robot-security-settings
 */
export async function dingtalkSign(secret: string, unixMillis: number): Promise<string> {
  return bytesToBase64(await hmacSha256(secret, `${unixMillis}\n${secret}`));
}
