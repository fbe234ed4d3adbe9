// The "test" button: one tiny request through the relay with a member's key, in the dialect of
// the group's account (Anthropic Messages, OpenAI Chat or Gemini), and the answer's text or the
// relay's error message.

export type Family = 'anthropic' | 'openai' | 'gemini';

export function familyOf(provider: string): Family {
  if (provider === 'gemini') return 'gemini';
  if (provider === 'openai' || provider === 'azure-openai' || provider === 'openai-compatible')
    return 'openai';
  return 'anthropic';
}

const DEFAULT_MODEL: Record<Family, string> = {
  anthropic: 'claude-haiku-4-5',
  openai: 'gpt-4o-mini',
  gemini: 'gemini-2.5-flash',
};

/** A model the account serves: the first of its list without wildcards, or its family's small model. */
export function probeModel(family: Family, supportedModels: readonly string[] | null | undefined): string {
  return supportedModels?.find((m) => !m.includes('*')) ?? DEFAULT_MODEL[family];
}

export interface ProbeResult {
  ok: boolean;
  status: number;
  text: string;
}

const PROMPT = 'Reply with one short word.';

export async function probeRelay(
  relayUrl: string,
  key: string,
  family: Family,
  model: string,
): Promise<ProbeResult> {
  const url = relayUrl.replace(/\/+$/, '');
  let response: Response;
  if (family === 'anthropic') {
    response = await fetch(`${url}/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': key, 'anthropic-version': '2023-06-01' },
      body: JSON.stringify({ model, max_tokens: 16, messages: [{ role: 'user', content: PROMPT }] }),
    });
  } else if (family === 'openai') {
    response = await fetch(`${url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
      body: JSON.stringify({ model, max_tokens: 16, messages: [{ role: 'user', content: PROMPT }] }),
    });
  } else {
    response = await fetch(`${url}/v1beta/models/${encodeURIComponent(model)}:generateContent`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-goog-api-key': key },
      body: JSON.stringify({ contents: [{ role: 'user', parts: [{ text: PROMPT }] }] }),
    });
  }
  const body: unknown = await response.json().catch(() => null);
  return { ok: response.ok, status: response.status, text: answerText(body) };
}

/** The answer's text in any of the three dialects, or the error's message. */
export function answerText(body: unknown): string {
  const b = body as Record<string, unknown> | null;
  if (!b) return '';
  const error = b.error as { message?: string } | undefined;
  if (error?.message) return error.message;
  const content = b.content as { type: string; text?: string }[] | undefined;
  if (Array.isArray(content)) return content.map((part) => part.text ?? '').join('');
  const choices = b.choices as { message?: { content?: string } }[] | undefined;
  if (Array.isArray(choices)) return choices[0]?.message?.content ?? '';
  const candidates = b.candidates as { content?: { parts?: { text?: string }[] } }[] | undefined;
  if (Array.isArray(candidates))
    return candidates[0]?.content?.parts?.map((p) => p.text ?? '').join('') ?? '';
  return '';
}
