// Idempotent, versioned bootstrap of a Durable Object's SQLite schema: each step runs once, in
// order, and the version row remembers how far the object has come.
export function migrateSql(sql: SqlStorage, steps: readonly string[]): void {
  sql.exec('CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)');
  const row = sql.exec<{ version: number }>('SELECT version FROM schema_version').toArray()[0];
  const current = row?.version ?? 0;
  for (let v = current; v < steps.length; v++) sql.exec(steps[v]!);
  if (!row) sql.exec('INSERT INTO schema_version (version) VALUES (?)', steps.length);
  else if (current < steps.length) sql.exec('UPDATE schema_version SET version = ?', steps.length);
}
