// The operator API's remaining use of enterprises (the routes are in worker/api/routes/enterprises.ts).
import { eq } from 'drizzle-orm';
import { ApiError } from '../api/errors';
import { db } from '../db/client';
import { type Enterprise, enterprises } from '../db/schema';

export async function findEnterprise(env: Env, id: string): Promise<Enterprise> {
  const [row] = await db(env).select().from(enterprises).where(eq(enterprises.id, id));
  if (!row) throw new ApiError('not_found', `No enterprise ${id}.`);
  return row;
}
