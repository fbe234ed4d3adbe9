// Pure logic of the statements page, the request log and subscription sign-in: forms to API inputs,
// which months can still be closed, whether a statement's amounts add up, query strings for the CSV
// links, and a usage window's bar. Money stays integer micro-dollars; no float reaches the API.
import type { Schemas } from '../api/client';
import { parseDollars, precisionFor } from './format';

type Group = Schemas['Group'];
type GroupChanges = Schemas['GroupChanges'];
type Statement = Schemas['Statement'];
export type SplitMode = Group['splitMode'];

export interface SplitForm {
  splitMode: SplitMode;
  prorateByDays: boolean;
  timeZone: string;
  /** '' means "the first owner" (null in the API). */
  feePayerUserId: string;
}

export function splitFormOf(group: Group): SplitForm {
  return {
    splitMode: group.splitMode,
    prorateByDays: group.prorateByDays,
    timeZone: group.timeZone,
    feePayerUserId: group.feePayerUserId ?? '',
  };
}

/** Only what changed, so a save never rewrites a setting someone else changed meanwhile. */
export function splitChanges(group: Group, form: SplitForm): GroupChanges {
  const changes: GroupChanges = {};
  if (form.splitMode !== group.splitMode) changes.splitMode = form.splitMode;
  if (form.prorateByDays !== group.prorateByDays) changes.prorateByDays = form.prorateByDays;
  const zone = form.timeZone.trim();
  if (zone !== group.timeZone) changes.timeZone = zone;
  const payer = form.feePayerUserId === '' ? null : form.feePayerUserId;
  if (payer !== group.feePayerUserId) changes.feePayerUserId = payer;
  return changes;
}

/** Signed dollars typed by a person ("-5", "+2.50", "$3") as integer micro-dollars; null if not an amount. */
export function parseSignedDollars(text: string): number | null {
  const match = text
    .trim()
    .replace(/\s/g, '')
    .match(/^([+-]?)\$?(\d+)(?:\.(\d{0,6}))?$/);
  if (!match) return null;
  const micros = Number(match[2]) * 1_000_000 + Number((match[3] ?? '').padEnd(6, '0'));
  if (!Number.isSafeInteger(micros)) return null;
  return match[1] === '-' ? -micros : micros;
}

export type AdjustmentForm = { userId: string; amount: string; reason: string };

/** The adjustment form as the API's input, or which field is wrong. */
export function adjustmentInput(
  form: AdjustmentForm,
): { ok: true; input: Schemas['AdjustmentInput'] } | { ok: false; field: 'userId' | 'amount' | 'reason' } {
  if (!form.userId) return { ok: false, field: 'userId' };
  const amountMicros = parseSignedDollars(form.amount);
  if (amountMicros === null || amountMicros === 0) return { ok: false, field: 'amount' };
  const reason = form.reason.trim();
  if (!reason) return { ok: false, field: 'reason' };
  return { ok: true, input: { userId: form.userId, amountMicros, reason } };
}

/** `YYYY-MM` of an instant in an IANA time zone. */
export function monthIn(ms: number, timeZone: string): string {
  const parts = new Intl.DateTimeFormat('en-CA', {
    timeZone,
    year: 'numeric',
    month: '2-digit',
  }).formatToParts(ms);
  const year = parts.find((p) => p.type === 'year')?.value;
  const month = parts.find((p) => p.type === 'month')?.value;
  return `${year}-${month}`;
}

function nextMonth(month: string): string {
  const [y, m] = month.split('-').map(Number) as [number, number];
  return m === 12 ? `${y + 1}-01` : `${y}-${String(m + 1).padStart(2, '0')}`;
}

/**
 * The months that are over in the group's zone, from the one it was created in, and not closed yet:
 * what the owner may close (the API refuses the current month, a closed one, and one before the group).
 * Newest first.
 */
export function closableMonths(
  createdAt: number,
  timeZone: string,
  closed: readonly string[],
  now: number,
): string[] {
  const current = monthIn(now, timeZone);
  const out: string[] = [];
  for (let m = monthIn(createdAt, timeZone); m < current; m = nextMonth(m)) {
    if (!closed.includes(m)) out.push(m);
  }
  return out.reverse();
}

/** A statement's lines add up to its total (bill + adjustments): the check the page shows. */
export function linesAddUp(statement: Statement): boolean {
  const sum = statement.lines.reduce((total, line) => total + line.amountMicros, 0);
  return sum === statement.totals.totalMicros;
}

/**
 * The display rule of a statement's money. The API's amounts add up exactly in micro-dollars;
 * rounding each figure on its own to cents (four lines of $0.0175 shown as $0.02 under a $0.07
 * total) makes them look wrong. So all of one statement's money is shown with one precision, the
 * fewest decimals (2, 4 or 6) at which what is displayed adds up: the lines' amounts to the total,
 * their adjustments to the adjustments, what the others owe to what the fee payer is owed, and the
 * fee plus the metered cost to the bill (a part of the bill may read $0.00; a person's line may
 * not). Usage at API price is information, not money owed: its column has a precision of its own
 * by the same rule, so that a cent-less usage line does not put the bill in fractions of a cent.
 */
export function statementPrecision(statement: Statement): { money: number; usage: number } {
  const { lines, totals, feePayer } = statement;
  const money = precisionFor([
    { parts: lines.map((l) => l.amountMicros), whole: totals.totalMicros },
    { parts: lines.map((l) => l.adjustmentsMicros), whole: totals.adjustmentsMicros },
    {
      parts: feePayer ? lines.filter((l) => l.userId !== feePayer.userId).map((l) => l.owesPayerMicros) : [],
      whole: feePayer?.owedMicros ?? 0,
    },
    {
      parts: [totals.fixedFeeMicros, totals.meteredMicros + totals.lateMeteredMicros],
      whole: totals.billMicros,
      keepNonZero: false,
    },
  ]);
  const usage = precisionFor([{ parts: lines.map((l) => l.costMicros), whole: totals.costMicros }]);
  return { money, usage };
}

/** The carpool account's price: its monthly fee (typed dollars) and whether usage is billed at API price. */
export interface PriceForm {
  fee: string;
  meteredBilling: boolean;
}

/** The largest fee the API takes (micro-dollars). */
const MAX_FEE_MICROS = 1_000_000_000_000;

export function priceFormOf(
  account: Pick<Schemas['Account'], 'monthlyFeeMicros' | 'meteredBilling'>,
): PriceForm {
  const fee = account.monthlyFeeMicros;
  // Whole cents as cents ("200.00"), finer amounts to the micro-dollar, so saving unchanged changes nothing.
  const text = (fee / 1_000_000).toFixed(fee % 10_000 === 0 ? 2 : 6);
  return { fee: text, meteredBilling: account.meteredBilling };
}

/** The price form as the account's changes (only what changed), or why it cannot be saved. */
export function priceChanges(
  account: Pick<Schemas['Account'], 'monthlyFeeMicros' | 'meteredBilling'>,
  form: PriceForm,
): { ok: true; changes: Schemas['CarpoolAccountChanges'] } | { ok: false } {
  const fee = parseDollars(form.fee);
  if (fee === null || fee > MAX_FEE_MICROS) return { ok: false };
  const changes: Schemas['CarpoolAccountChanges'] = {};
  if (fee !== account.monthlyFeeMicros) changes.monthlyFeeMicros = fee;
  if (form.meteredBilling !== account.meteredBilling) changes.meteredBilling = form.meteredBilling;
  return { ok: true, changes };
}

/** Parts per million as a percentage with one decimal ("33.3%"). */
export function formatPpm(ppm: number, locale = 'en'): string {
  return new Intl.NumberFormat(locale, { style: 'percent', maximumFractionDigits: 1 }).format(
    ppm / 1_000_000,
  );
}

export function statementCsvPath(groupId: string, month: string): string {
  return `/api/v1/groups/${encodeURIComponent(groupId)}/statements/${encodeURIComponent(month)}.csv`;
}

// The request log (GET /usage/requests and its .csv)

/** How a request ended, as the log's `outcome` filter offers it (the API's values). */
export const REQUEST_OUTCOMES = ['complete', 'refused', 'upstream_error', 'client_abort', 'failed'] as const;
export type RequestOutcome = (typeof REQUEST_OUTCOMES)[number];

export interface RequestLogForm {
  keyId: string;
  userId: string;
  model: string;
  accountId: string;
  status: string;
  /** One of REQUEST_OUTCOMES, or '' for any. */
  outcome: string;
  /** `datetime-local` values, the viewer's local time; '' for open-ended. */
  from: string;
  to: string;
}

export const emptyRequestLogForm: RequestLogForm = {
  keyId: '',
  userId: '',
  model: '',
  accountId: '',
  status: '',
  outcome: '',
  from: '',
  to: '',
};

export type RequestLogQuery = {
  groupId?: string;
  enterpriseId?: string;
  keyId?: string;
  userId?: string;
  model?: string;
  accountId?: string;
  status?: number;
  outcome?: RequestOutcome;
  from?: number;
  to?: number;
};

/** The filters as the API's query: empty fields left out, the status a number, times in epoch ms. */
export function requestLogQuery(form: RequestLogForm, groupId?: string): RequestLogQuery {
  const query: RequestLogQuery = {};
  if (groupId) query.groupId = groupId;
  for (const field of ['keyId', 'userId', 'model', 'accountId'] as const) {
    const value = form[field].trim();
    if (value) query[field] = value;
  }
  const status = Number.parseInt(form.status, 10);
  if (/^\d{3}$/.test(form.status.trim()) && status >= 100 && status <= 599) query.status = status;
  const outcome = REQUEST_OUTCOMES.find((o) => o === form.outcome);
  if (outcome) query.outcome = outcome;
  for (const field of ['from', 'to'] as const) {
    const ms = form[field] ? new Date(form[field]).getTime() : Number.NaN;
    if (Number.isFinite(ms)) query[field] = ms;
  }
  return query;
}

/** The CSV download link with the same filters as the list. */
export function requestLogCsvPath(query: RequestLogQuery): string {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(query)) {
    if (value !== undefined) params.set(name, String(value));
  }
  const text = params.toString();
  return `/api/v1/usage/requests.csv${text ? `?${text}` : ''}`;
}

/**
 * Why the relay refused a request, as a catalog key: the row's `errorType` is the code the client
 * got (`budget_exhausted`, `key_rate_limit`…) or the kind of error. Null: not one the dashboard
 * names (the code is shown as it is).
 */
export function refusalReasonKey(errorType: string | null): RefusalReasonKey | null {
  return REFUSAL_REASONS.find((r) => r === errorType)
    ? (`log.reason.${errorType}` as RefusalReasonKey)
    : null;
}

export const REFUSAL_REASONS = [
  'budget_exhausted',
  'budget_committed',
  'key_rate_limit',
  'key_concurrency_limit',
  'rate_limited',
  'model_not_found',
  'model_not_allowed',
  'service_not_allowed',
  'client_not_allowed',
  'key_revoked',
  'key_expired',
  'unavailable',
  'overloaded',
  'invalid_request',
  'too_large',
  'unsupported_encoding',
  'permission',
  'authentication',
] as const;
export type RefusalReasonKey = `log.reason.${(typeof REFUSAL_REASONS)[number]}`;

// Subscription usage windows

export type UsageWindow = Schemas['AccountState']['windows'][number];

/** A window's bar: its fill (0–100, clamped) and the time left until it resets (null: unknown or past). */
export function windowBar(window: UsageWindow, now: number): { fill: number; resetsInMs: number | null } {
  const fill = Math.max(0, Math.min(100, window.usedPercent));
  const resetsInMs = window.resetAt !== null && window.resetAt > now ? window.resetAt - now : null;
  return { fill, resetsInMs };
}

/** What the person pasted after signing in, as the finish input: a callback URL, or the code (`code#state` too). */
export function oauthFinishInput(state: string, pasted: string): Schemas['OAuthFinishInput'] {
  const text = pasted.trim();
  return /^https?:\/\//i.test(text) ? { state, callbackUrl: text } : { state, code: text };
}
