// The webhook formats by name.
import type { EndpointFormat } from '../event';
import { dingtalk } from './dingtalk';
import { discord } from './discord';
import { feishu } from './feishu';
import { json } from './json';
import { slack } from './slack';
import type { WebhookFormat } from './types';
import { wecom } from './wecom';

export const FORMATS: Readonly<Record<EndpointFormat, WebhookFormat>> = {
  json,
  slack,
  discord,
  feishu,
  dingtalk,
  wecom,
};

/** The formats whose bots verify a signature of their own (the endpoint's `vendorSecret`). */
export function signsItsOwnWay(format: EndpointFormat): boolean {
  return FORMATS[format].vendorSign !== undefined;
}
