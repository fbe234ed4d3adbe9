// The Hono environment shared by every route: bindings from wrangler types, per-request variables.
import type { Caller } from './domain/caller';
import type { Dialect } from './relay/dialect';

export interface AppEnv {
  Bindings: Env;
  Variables: {
    requestId: string;
    /** Which client dialect errors on this route are rendered in. */
    dialect: Dialect;
    /** API routes: who is calling (null before sign-in), set by the principal middleware. */
    caller: Caller | null;
  };
}
