// The one client of the relay's API: openapi-fetch typed by schema.d.ts, which `npm run api:types`
// generates from /api/v1/openapi.json. Cookies ride along (`credentials: 'include'`), so the same
// code works on the relay's own origin and, with VITE_API_ORIGIN, from a dashboard deployed apart.
import createClient from 'openapi-fetch';
import type { components, paths } from './schema';

export type Schemas = components['schemas'];

/** Where the relay is: the build-time VITE_API_ORIGIN, or the page's own origin (the default). */
export const relayOrigin: string = (import.meta.env.VITE_API_ORIGIN as string | undefined) || location.origin;

export const api = createClient<paths>({ baseUrl: `${relayOrigin}/api/v1`, credentials: 'include' });

/** An error answer of the API, in its one envelope `{"error":{"code","message",...}}`. */
export class ApiFailure extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
  }
}

interface Answer<T> {
  data?: T;
  error?: unknown;
  response: Response;
}

/** The data of an answer, or an ApiFailure carrying the API's own code and message. */
export async function must<T>(call: Promise<Answer<T>>): Promise<T> {
  const { data, error, response } = await call;
  if (response.ok) return data as T;
  const envelope = (error as { error?: { code?: string; message?: string; details?: unknown } })?.error;
  throw new ApiFailure(
    response.status,
    envelope?.code ?? 'internal',
    envelope?.message ?? `${response.status} ${response.statusText}`,
    envelope?.details,
  );
}
