// One drizzle instance per D1 binding, created lazily and reused by the isolate.
import { type DrizzleD1Database, drizzle } from 'drizzle-orm/d1';
import * as schema from './schema';

export type Db = DrizzleD1Database<typeof schema>;
const instances = new WeakMap<D1Database, Db>();

export function db(env: { DB: D1Database }): Db {
  let instance = instances.get(env.DB);
  if (!instance) {
    instance = drizzle(env.DB, { schema });
    instances.set(env.DB, instance);
  }
  return instance;
}
