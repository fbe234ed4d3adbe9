// Formatting money and counts for people. Money stays integer micro-dollars everywhere (the API's
// unit); only these functions turn it into text, rounding for display and never feeding back.
import type { MessageKey, Translate } from '../i18n';

const MICROS_PER_DOLLAR = 1_000_000;
const MICROS_PER_CENT = 10_000;

/**
 * Micro-dollars as dollars: cents for amounts of a cent or more ($12.35), otherwise up to four
 * decimals so a tiny request is not shown as $0.00 ($0.0042); zero is $0.00.
 */
export function formatMicros(micros: number, locale = 'en'): string {
  const sign = micros < 0 ? '-' : '';
  const abs = Math.abs(Math.trunc(micros));
  const small = abs > 0 && abs < MICROS_PER_CENT;
  const text = (abs / MICROS_PER_DOLLAR).toLocaleString(locale, {
    minimumFractionDigits: small ? 4 : 2,
    maximumFractionDigits: small ? 4 : 2,
  });
  return `${sign}$${text}`;
}

/**
 * Micro-dollars rounded (half away from zero) to `decimals` (0–6) decimal places of a dollar, still
 * integer micro-dollars: what a figure shown with that many decimals stands for.
 */
export function roundMicros(micros: number, decimals: number): number {
  const unit = 10 ** (6 - decimals);
  const abs = Math.abs(Math.trunc(micros));
  const rounded = Math.floor((abs + unit / 2) / unit) * unit;
  return micros < 0 && rounded > 0 ? -rounded : rounded;
}

/** Micro-dollars as dollars with exactly `decimals` decimals (2–6): one statement's common precision. */
export function formatMicrosAt(micros: number, decimals: number, locale = 'en'): string {
  const rounded = roundMicros(micros, decimals);
  const sign = rounded < 0 ? '-' : '';
  const text = (Math.abs(rounded) / MICROS_PER_DOLLAR).toLocaleString(locale, {
    minimumFractionDigits: decimals,
    maximumFractionDigits: decimals,
  });
  return `${sign}$${text}`;
}

/** One sum as a person reads it: its parts (lines), its whole, and whether a part may show as zero. */
export interface ShownSum {
  parts: readonly number[];
  whole: number;
  /** A part that is not zero must not read as zero (a person's line); default true. */
  keepNonZero?: boolean;
}

/**
 * The fewest decimals — 2, 4 or 6 — at which every sum adds up as displayed: each one's parts,
 * rounded, sum to its rounded whole (and, unless told otherwise, no part that is not zero reads as
 * zero). At 6 decimals every figure is exact, so some precision always qualifies.
 */
export function precisionFor(sums: readonly ShownSum[]): number {
  for (const decimals of [2, 4]) {
    const fits = sums.every(({ parts, whole, keepNonZero = true }) => {
      let total = 0;
      for (const part of parts) {
        const shown = roundMicros(part, decimals);
        if (keepNonZero && part !== 0 && shown === 0) return false;
        total += shown;
      }
      return total === roundMicros(whole, decimals);
    });
    if (fits) return decimals;
  }
  return 6;
}

/** Dollars typed by a person ("12.5", "$3", "0.25") as integer micro-dollars; null if not an amount. */
export function parseDollars(text: string): number | null {
  const match = text
    .trim()
    .replace(/^\$/, '')
    .match(/^(\d+)(?:\.(\d{0,6}))?$/);
  if (!match) return null;
  const whole = Number(match[1]);
  const fraction = Number((match[2] ?? '').padEnd(6, '0'));
  const micros = whole * MICROS_PER_DOLLAR + fraction;
  return Number.isSafeInteger(micros) ? micros : null;
}

/** Token counts compactly: 950, 12.3K, 4.5M, 1.2B. */
export function formatTokens(tokens: number, locale = 'en'): string {
  return new Intl.NumberFormat(locale, { notation: 'compact', maximumFractionDigits: 1 }).format(tokens);
}

export function formatCount(n: number, locale = 'en'): string {
  return new Intl.NumberFormat(locale).format(n);
}

/** A part of a whole as a percentage with one decimal ("33.3%"); 0% when the whole is 0. */
export function formatShare(part: number, whole: number, locale = 'en'): string {
  const ratio = whole > 0 ? part / whole : 0;
  return new Intl.NumberFormat(locale, { style: 'percent', maximumFractionDigits: 1 }).format(ratio);
}

export function formatDateTime(ms: number | null | undefined, locale = 'en'): string {
  if (ms === null || ms === undefined) return '—';
  return new Intl.DateTimeFormat(locale, { dateStyle: 'medium', timeStyle: 'short' }).format(ms);
}

/** The first instant of the month containing `now`, in the viewer's time zone. */
export function monthStart(now = new Date()): number {
  return new Date(now.getFullYear(), now.getMonth(), 1).getTime();
}

/**
 * A budget a key answers to, in words of the catalog ("Group · Monthly, refuse requests"); a scope,
 * period or mode the catalog does not know (a newer API) is shown as the API says it.
 */
export function budgetInWords(b: { scope: string; period: string; mode: string }, t: Translate): string {
  const word = (prefix: string, value: string) => {
    const key = `${prefix}.${value}` as MessageKey;
    const text = t(key);
    return text === undefined ? value : text;
  };
  return `${word('adm.scope', b.scope)} · ${t('adm.budget.label', {
    period: word('adm.period', b.period),
    mode: word('adm.mode', b.mode),
  })}`;
}
