// The generic format: the alert event itself, as JSON (its schema is AlertEvent in the OpenAPI
// document; docs/alerts.md shows one).
import type { WebhookFormat } from './types';

export const json: WebhookFormat = {
  body: (event) => ({ ...event }),
};
