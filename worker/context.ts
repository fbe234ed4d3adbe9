// The Hono environment shared by every route: bindings from wrangler types, per-request variables.
import type { Dialect } from './relay/dialect';

export interface AppEnv {
  Bindings: Env;
  Variables: {
    requestId: string;
    /** Which client dialect errors on this route are rendered in. */
    dialect: Dialect;
  };
}
