// Ids the client expects in its own wire's shape: `msg_…`, `chatcmpl-…`, `toolu_…`.
const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

export function randomId(prefix: string, length = 24): string {
  const bytes = crypto.getRandomValues(new Uint8Array(length));
  let id = prefix;
  for (const byte of bytes) id += ALPHABET[byte % ALPHABET.length];
  return id;
}

/** Anthropic tool ids must match `^[a-zA-Z0-9_-]+$`; the same input always maps to the same id. */
export function anthropicToolId(id: string | undefined): string {
  if (!id) return randomId('toolu_');
  return id.replace(/[^a-zA-Z0-9_-]/g, '_');
}

/** `msg_01Ab…` → `chatcmpl-01Ab…`: one id per response, recognisable in logs on both sides. */
export function chatCompletionId(messageId: string | undefined): string {
  if (!messageId) return randomId('chatcmpl-');
  return `chatcmpl-${messageId.startsWith('msg_') ? messageId.slice(4) : messageId}`;
}

export function anthropicMessageId(completionId: string | undefined): string {
  return completionId ? `msg_${completionId}` : randomId('msg_');
}
