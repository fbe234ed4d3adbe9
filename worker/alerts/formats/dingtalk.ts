// DingTalk custom robots: `msgtype: markdown`; with the robot's signing secret (加签, `SEC…`),
// `timestamp` and `sign` in the URL's query. DingTalk answers 200 with a non-zero `errcode` when it
// refuses. A robot protected by a keyword instead can use "AiCarpool", which every message holds.
// https://open.dingtalk.com/document/robots/custom-robot-access ·
// https://open.dingtalk.com/document/robots/customize-robot-security-settings
import { dingtalkSign } from '../signature';
import { footer, vendorError, type WebhookFormat } from './types';

export const dingtalk: WebhookFormat = {
  body(event) {
    return {
      msgtype: 'markdown',
      markdown: { title: event.title, text: `#### ${event.title}\n\n${event.text}\n\n> ${footer(event)}` },
    };
  },
  async vendorSign(request, secret, nowMs) {
    request.url.searchParams.set('timestamp', String(nowMs));
    // searchParams encodes the base64 (`+`, `/`, `=`) as DingTalk's recipe asks.
    request.url.searchParams.set('sign', await dingtalkSign(secret, nowMs));
  },
  rejection: (body) => vendorError(body, 'errcode', 'errmsg'),
};
