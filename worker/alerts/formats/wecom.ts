// WeCom (企业微信) group robots: `msgtype: markdown`, at most 4096 bytes, with WeCom's three font
// colours. The robot's key in the URL is its only credential (WeCom has no signing); it answers 200
// with a non-zero `errcode` when it refuses.
// https://developer.work.weixin.qq.com/document/path/91770
import { footer, tone, vendorError, type WebhookFormat } from './types';

const COLOUR = { critical: 'warning', warning: 'warning', info: 'info', resolved: 'info' };
const MAX_BYTES = 4096;

function clipBytes(text: string, max: number): string {
  const bytes = new TextEncoder().encode(text);
  if (bytes.byteLength <= max) return text;
  // Cut on a character boundary: the decoder drops a partial sequence at the end.
  return `${new TextDecoder().decode(bytes.slice(0, max - 3)).replace(/\uFFFD$/, '')}…`;
}

export const wecom: WebhookFormat = {
  body(event) {
    const content = `<font color="${COLOUR[tone(event)]}">**${event.title}**</font>\n${event.text}\n> <font color="comment">${footer(event)}</font>`;
    return { msgtype: 'markdown', markdown: { content: clipBytes(content, MAX_BYTES) } };
  },
  rejection: (body) => vendorError(body, 'errcode', 'errmsg'),
};
