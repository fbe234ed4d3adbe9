// Wire → its format.
import type { Wire } from '../providers/types';
import { anthropicWire } from './anthropic';
import { geminiWire } from './gemini';
import { openAIChatWire } from './openai-chat';
import { openAIResponsesWire } from './openai-responses';
import type { WireFormat } from './types';

const formats: Record<Wire, WireFormat> = {
  anthropic: anthropicWire,
  'openai-chat': openAIChatWire,
  'openai-responses': openAIResponsesWire,
  gemini: geminiWire,
};

export function wireFormat(wire: Wire): WireFormat {
  return formats[wire];
}
