// Reading the constraint a D1 write broke. drizzle wraps D1's error and D1 wraps SQLite's, so the
// message is somewhere down the `cause` chain: a UNIQUE/FOREIGN KEY failure, or the text of a
// trigger's RAISE(ABORT, '…') (see the migrations).

/** The SQLite constraint failure behind an error, or null when it is something else. */
export function constraintFailure(err: unknown): string | null {
  for (let e: unknown = err; e instanceof Error; e = e.cause)
    if (/SQLITE_CONSTRAINT|constraint failed/i.test(e.message)) return e.message;
  return null;
}

/** Whether a write failed on a trigger's RAISE with this message, or on this constraint. */
export function failedOn(err: unknown, what: string): boolean {
  return constraintFailure(err)?.includes(what) ?? false;
}
