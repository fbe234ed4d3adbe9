// A model list as a key limited to some models should see it: only the models it may use. The
// list is one small JSON document (never a stream), already in the client's wire by the time it
// gets here. Pagination cursors are the upstream's and stay as they are.
import { modelAllowed } from '../auth/key-rules';
import { isObject, listOf, stringOr } from '../json';
import type { Wire } from '../providers/types';
import { convertJson } from './rewrite-stream';

export function filterModelList(list: Response, wire: Wire, allowed: readonly string[] | null): Response {
  if (!allowed || !list.ok || !list.body) return list;
  if (!(list.headers.get('content-type') ?? '').includes('json')) return list;
  const body = list.body.pipeThrough(convertJson((json) => keepAllowed(json, wire, allowed)));
  return new Response(body, list);
}

function keepAllowed(json: unknown, wire: Wire, allowed: readonly string[]): unknown {
  if (!isObject(json)) return json;
  // Gemini: `{models: [{name: "models/gemini-2.5-pro", …}], nextPageToken}`.
  if (wire === 'gemini') {
    const models = listOf(json.models).filter((m) => {
      const name = isObject(m) ? stringOr(m.name) : undefined;
      return name !== undefined && modelAllowed(allowed, name.replace(/^models\//, ''));
    });
    return { ...json, models };
  }
  // Anthropic and OpenAI: `{data: [{id, …}], …}`.
  const data = listOf(json.data).filter((m) => {
    const id = isObject(m) ? stringOr(m.id) : undefined;
    return id !== undefined && modelAllowed(allowed, id);
  });
  return { ...json, data };
}
