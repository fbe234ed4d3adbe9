// A page cursor over (time, id), the order newest-first lists are read in: the last row of a page,
// opaque to clients, so the next page starts just after it even where rows share a millisecond
// (paging by `to=<oldest time>` alone skips the rest of that millisecond).
import { ApiError } from '../api/errors';

export interface Cursor<Id extends string | number> {
  at: number;
  id: Id;
}

export function encodeCursor(at: number, id: string | number): string {
  return btoa(JSON.stringify([at, id]))
    .replaceAll('+', '-')
    .replaceAll('/', '_')
    .replaceAll('=', '');
}

/** The cursor `encodeCursor` gave out, its id of `idType`; anything else is a 400. */
export function decodeCursor<T extends 'string' | 'number'>(
  cursor: string,
  idType: T,
): Cursor<T extends 'string' ? string : number> {
  try {
    const [at, id] = JSON.parse(atob(cursor.replaceAll('-', '+').replaceAll('_', '/'))) as unknown[];
    if (
      typeof at === 'number' &&
      Number.isInteger(at) &&
      typeof id === idType &&
      (idType === 'string' || Number.isInteger(id))
    )
      return { at, id: id as T extends 'string' ? string : number };
  } catch {}
  throw new ApiError('invalid_request', 'The cursor is not one this API gave out.');
}
