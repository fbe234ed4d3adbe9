// Discord webhooks: an embed, with mentions turned off (a group named "@everyone" pings no one).
// https://discord.com/developers/docs/resources/webhook#execute-webhook
import { footer, tone, type WebhookFormat } from './types';

const COLOUR = { critical: 0xd93025, warning: 0xf29900, info: 0x1a73e8, resolved: 0x188038 };

export const discord: WebhookFormat = {
  body(event) {
    return {
      username: 'AiCarpool',
      allowed_mentions: { parse: [] },
      embeds: [
        {
          // Discord's limits: a title of 256 characters, a description of 4096.
          title: event.title.slice(0, 256),
          description: event.text.slice(0, 4096),
          color: COLOUR[tone(event)],
          timestamp: event.occurredAt,
          footer: { text: footer(event) },
        },
      ],
    };
  },
};
