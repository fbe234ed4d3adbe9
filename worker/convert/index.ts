// Conversion registry: which converter serves a client wire on an upstream wire. Adding a pair is a
// module in this folder and a line here.

import { objectOr } from '../json';
import type { Wire } from '../providers/types';
import { anthropicToOpenAIChat } from './anthropic-to-openai-chat';
import { openAIChatToAnthropic } from './openai-chat-to-anthropic';
import type { Conversion, JsonObject, ResponseStreamOptions } from './types';

export { CONVERTED_REASONING_SIGNATURE } from './anthropic-to-openai-chat';
export type { Conversion, ResponseStreamOptions } from './types';

const conversions: readonly Conversion[] = [anthropicToOpenAIChat, openAIChatToAnthropic];

/** The conversion from a client's wire to an upstream's, or null when none is needed or none exists. */
export function conversionFor(from: Wire, to: Wire): Conversion | null {
  if (from === to) return null;
  return conversions.find((c) => c.from === from && c.to === to) ?? null;
}

/** What the client's own request asked of the stream that the converted request cannot carry. */
export function responseStreamOptions(clientBody: JsonObject): ResponseStreamOptions {
  return { includeUsage: objectOr(clientBody.stream_options)?.include_usage === true };
}
