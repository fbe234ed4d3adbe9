// Slack incoming webhooks: `text` (the notification's fallback) and Block Kit blocks.
// https://api.slack.com/messaging/webhooks · https://api.slack.com/reference/surfaces/formatting
import { footer, type WebhookFormat } from './types';

/** Slack reads `&`, `<` and `>` as control characters (`<!channel>` pings everyone): escape them. */
function escapeSlack(text: string): string {
  return text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;');
}

const EMOJI = { critical: ':red_circle:', warning: ':large_orange_circle:', info: ':large_blue_circle:' };

export const slack: WebhookFormat = {
  body(event) {
    const mark = event.status === 'resolved' ? ':white_check_mark:' : EMOJI[event.severity];
    return {
      text: escapeSlack(`${event.title}: ${event.text}`),
      blocks: [
        // A header block takes at most 150 characters.
        { type: 'header', text: { type: 'plain_text', text: event.title.slice(0, 150), emoji: true } },
        { type: 'section', text: { type: 'mrkdwn', text: `${mark} ${escapeSlack(event.text)}` } },
        { type: 'context', elements: [{ type: 'mrkdwn', text: escapeSlack(footer(event)) }] },
      ],
    };
  },
};
