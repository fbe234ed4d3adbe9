// Where to go after signing in (`?next=`): only a path of this site, so a crafted link cannot send
// someone to another one.
export function safeNext(next: string | null): string {
  return next?.startsWith('/') && !next.startsWith('//') ? next : '/';
}
