// Model lists across wires: an OpenAI client (Cherry Studio, Cursor) listing the models of an
// Anthropic account, and the reverse. Only the ids and dates carry over.
import { isObject, listOf, numberOr, stringOr } from '../json';
import type { Conversion } from './types';

function anthropicToOpenAIList(body: unknown): unknown {
  const data = listOf(isObject(body) ? body.data : undefined).flatMap((m) => {
    const id = isObject(m) ? stringOr(m.id) : undefined;
    if (!id || !isObject(m)) return [];
    const created = Date.parse(stringOr(m.created_at) ?? '');
    return [
      {
        id,
        object: 'model',
        created: Number.isNaN(created) ? 0 : Math.floor(created / 1000),
        owned_by: 'anthropic',
      },
    ];
  });
  return { object: 'list', data };
}

function openAIToAnthropicList(body: unknown): unknown {
  const data = listOf(isObject(body) ? body.data : undefined).flatMap((m) => {
    const id = isObject(m) ? stringOr(m.id) : undefined;
    if (!id || !isObject(m)) return [];
    const created = new Date((numberOr(m.created) ?? 0) * 1000).toISOString();
    return [{ type: 'model', id, display_name: id, created_at: created }];
  });
  return { data, has_more: false, first_id: data[0]?.id ?? null, last_id: data.at(-1)?.id ?? null };
}

/** The model-list counterpart of a message conversion: same wires, same error mapping. */
export function modelListConversion(messages: Conversion): Conversion {
  const responseBody = messages.from === 'openai-chat' ? anthropicToOpenAIList : openAIToAnthropicList;
  return {
    from: messages.from,
    to: messages.to,
    refusal: () => null,
    request: (body) => body,
    responseStream: () => new TransformStream(),
    responseBody: (body) => responseBody(body),
    errorBody: (status, body) => messages.errorBody(status, body),
  };
}
