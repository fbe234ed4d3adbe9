// Feishu / Lark custom bots: an interactive card (`msg_type: interactive`) coloured by severity;
// with the bot's signing secret, `timestamp` and `sign` in the body. Feishu answers 200 with a
// non-zero `code` when it refuses (a bad signature, a keyword missing).
// https://open.feishu.cn/document/client-docs/bot-v3/add-custom-bot (Lark:
// https://open.larksuite.com/document/client-docs/bot-v3/add-custom-bot)
import { feishuSign } from '../signature';
import { footer, tone, vendorError, type WebhookFormat } from './types';

const TEMPLATE = { critical: 'red', warning: 'orange', info: 'blue', resolved: 'green' };

export const feishu: WebhookFormat = {
  body(event) {
    return {
      msg_type: 'interactive',
      card: {
        header: { title: { tag: 'plain_text', content: event.title }, template: TEMPLATE[tone(event)] },
        elements: [
          { tag: 'div', text: { tag: 'plain_text', content: event.text } },
          { tag: 'note', elements: [{ tag: 'plain_text', content: footer(event) }] },
        ],
      },
    };
  },
  async vendorSign(request, secret, nowMs) {
    const seconds = Math.floor(nowMs / 1000);
    request.body.timestamp = String(seconds);
    request.body.sign = await feishuSign(secret, seconds);
  },
  rejection: (body) => vendorError(body, 'code', 'msg'),
};
