// drizzle-kit turns worker/db/schema.ts into flat SQL migrations that wrangler and the test pool apply.
import { defineConfig } from 'drizzle-kit';

export default defineConfig({
  dialect: 'sqlite',
  schema: './worker/db/schema.ts',
  out: './migrations',
});
