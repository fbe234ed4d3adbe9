// A non-streamed Responses request served by the ChatGPT backend, which answers only streams: the
// stream is read to its end and the client gets the one body it asked for. The final event carries
// the whole Response (`response.completed`, or `.incomplete` when a limit cut the output short), so
// only that event is parsed and kept; deltas pass by. A failed stream becomes the OpenAI error the
// API would have answered, with its status, so the scheduler classifies it like any other error.
import { isObject, type JsonObject, parseJson } from '../../json';
import { SseParser } from '../../metering/sse';

/** Events that end a Responses stream, and so may carry the answer or its failure. */
const ENDINGS = new Set(['response.completed', 'response.incomplete', 'response.failed', 'error']);

type Ending = { kind: 'answer'; response: JsonObject } | { kind: 'error'; error: JsonObject };

export async function wholeAnswer(upstream: Response): Promise<Response> {
  let ending: Ending | null = null;
  const parser = new SseParser((event, data) => {
    // Unnamed events (`message`) name their type inside; the backend names them all.
    if (!ENDINGS.has(event) && event !== 'message') return;
    const parsed = parseJson(data);
    if (isObject(parsed)) ending = endingOf(parsed) ?? ending;
  });
  let cut = upstream.body === null;
  if (upstream.body) {
    const reader = upstream.body.getReader();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        parser.push(value);
      }
      parser.end();
    } catch {
      cut = true;
    }
  }
  const headers = new Headers(upstream.headers);
  headers.set('content-type', 'application/json');
  headers.delete('content-length');
  const found = ending as Ending | null;
  if (found?.kind === 'answer') return Response.json(found.response, { status: 200, headers });
  if (found?.kind === 'error') return errorAnswer(found.error, headers);
  return errorAnswer(
    {
      code: null,
      message: cut
        ? 'The upstream connection was lost before the response was complete.'
        : 'The upstream stream ended without a response.',
    },
    headers,
    502,
  );
}

function endingOf(event: JsonObject): Ending | null {
  const response = isObject(event.response) ? event.response : null;
  switch (event.type) {
    case 'response.completed':
    case 'response.incomplete':
      return response ? { kind: 'answer', response } : null;
    case 'response.failed':
      return { kind: 'error', error: (response && isObject(response.error) ? response.error : null) ?? {} };
    case 'error':
      // The Responses API's `error` event has its fields at the top; some relays nest them.
      return { kind: 'error', error: isObject(event.error) ? event.error : event };
    default:
      return null;
  }
}

/** The status the OpenAI API answers for an error code, as its streams name them. */
function statusOf(code: string): number {
  if (code.includes('rate_limit') || code === 'insufficient_quota' || code === 'usage_limit_reached')
    return 429;
  if (code.includes('overloaded')) return 503;
  if (code === 'server_error' || code === '') return 500;
  return 400;
}

function errorAnswer(error: JsonObject, headers: Headers, status?: number): Response {
  const code = typeof error.code === 'string' ? error.code : null;
  const answered = status ?? statusOf(code ?? '');
  const type =
    answered === 429
      ? code
      : answered >= 500
        ? 'server_error'
        : typeof error.type === 'string'
          ? error.type
          : 'invalid_request_error';
  const message =
    typeof error.message === 'string' ? error.message : 'The upstream could not complete the response.';
  const param = typeof error.param === 'string' ? error.param : null;
  return Response.json({ error: { message, type, param, code } }, { status: answered, headers });
}
