// The longest strings the relay takes from clients and upstreams and repeats: into error
// messages, Durable Object calls, logs and usage events. A usage event must fit in one Queue
// message (128 KB), so every string in it has a bound (`worker/queue/usage-event.ts`).

/** A model name, from a client's body or path or an account's mapping (real ones are < 100). */
export const MODEL_NAME_MAX = 256;

/** `text`, cut to `max` characters (an ellipsis marks the cut), for strings merely repeated. */
export function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}
