// The dashboard's few building blocks, on native elements (labels tied to inputs, real buttons,
// <output> for results) so keyboards and screen readers work without a component library.
import { type ReactNode, useId, useLayoutEffect, useRef, useState } from 'react';
import { Link } from 'wouter';
import { ApiFailure } from '../api/client';
import { useI18n } from '../i18n';
import { confirmAccepted } from '../lib/confirm';
import { apiFailureText, type FieldLabels } from '../lib/errors';
import { FormError } from '../lib/forms';

export function Card({
  title,
  children,
  actions,
}: {
  title?: ReactNode;
  children: ReactNode;
  actions?: ReactNode;
}) {
  return (
    <section className="card">
      {(title || actions) && (
        <header className="card-head">
          {title && <h2>{title}</h2>}
          {actions}
        </header>
      )}
      {children}
    </section>
  );
}

export function Stat({ label, value, hint }: { label: ReactNode; value: ReactNode; hint?: ReactNode }) {
  return (
    <div className="stat">
      <div className="stat-label">{label}</div>
      <div className="stat-value">{value}</div>
      {hint && <div className="stat-hint">{hint}</div>}
    </div>
  );
}

type FieldProps = {
  label: ReactNode;
  hint?: ReactNode;
  name: string;
  type?: string;
  value: string;
  onChange: (value: string) => void;
  required?: boolean;
  autoComplete?: string;
  placeholder?: string;
  inputMode?: 'numeric' | 'decimal' | 'text';
  minLength?: number;
};

export function Field({ label, hint, name, type = 'text', value, onChange, ...rest }: FieldProps) {
  const id = useId();
  const hintId = `${id}-hint`;
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      <input
        id={id}
        name={name}
        type={type}
        value={value}
        aria-describedby={hint ? hintId : undefined}
        onChange={(e) => onChange(e.target.value)}
        {...rest}
      />
      {hint && (
        <small id={hintId} className="hint">
          {hint}
        </small>
      )}
    </div>
  );
}

export function Select<T extends string>({
  label,
  value,
  options,
  onChange,
  name,
}: {
  label: ReactNode;
  value: T;
  options: readonly { value: T; label: string }[];
  onChange: (value: T) => void;
  name: string;
}) {
  const id = useId();
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      <select id={id} name={name} value={value} onChange={(e) => onChange(e.target.value as T)}>
        {options.map((o) => (
          <option key={o.value} value={o.value}>
            {o.label}
          </option>
        ))}
      </select>
    </div>
  );
}

/**
 * An API failure (or any error) in words, announced to screen readers. `fields` names the form's
 * fields as it shows them, for a refusal that names fields by their API path.
 */
export function ErrorMessage({ error, fields }: { error: unknown; fields?: FieldLabels }) {
  const { t, language } = useI18n();
  if (!error) return null;
  const text =
    error instanceof FormError
      ? t(error.rule === 'positive' ? 'form.positive' : 'form.wholeAtLeast', {
          field: t(error.field),
          min: error.min,
        })
      : error instanceof ApiFailure
        ? apiFailureText(error, t, language, fields)
        : error instanceof Error
          ? error.message
          : t('error.generic');
  return (
    <p className="error" role="alert">
      {text}
    </p>
  );
}

export function Loading() {
  const { t } = useI18n();
  return (
    <p className="muted" aria-live="polite">
      {t('common.loading')}
    </p>
  );
}

/**
 * The next page of a list read with `useCursorPages`: gone after the last page, and saying it is
 * loading while the page is read. A press meanwhile is ignored (fetchNextPage would cancel and ask
 * again); aria-disabled rather than disabled, so the focus stays on the button for the next press.
 */
export function LoadMore({
  pages,
}: {
  pages: { hasNextPage: boolean; isFetchingNextPage: boolean; fetchNextPage: () => unknown };
}) {
  const { t } = useI18n();
  if (!pages.hasNextPage) return null;
  return (
    <button
      type="button"
      className="secondary"
      aria-disabled={pages.isFetchingNextPage}
      aria-busy={pages.isFetchingNextPage}
      onClick={() => {
        if (!pages.isFetchingNextPage) pages.fetchNextPage();
      }}
    >
      {pages.isFetchingNextPage ? t('common.loading') : t('common.more')}
    </button>
  );
}

/** Copies a text to the clipboard, saying so; falls back to selecting it where the clipboard is refused. */
export function CopyButton({ text, label }: { text: string; label?: string }) {
  const { t } = useI18n();
  const [copied, setCopied] = useState(false);
  return (
    <button
      type="button"
      className="secondary small"
      onClick={async () => {
        try {
          await navigator.clipboard.writeText(text);
          setCopied(true);
          setTimeout(() => setCopied(false), 2000);
        } catch {
          setCopied(false);
        }
      }}
    >
      {copied ? t('common.copied') : (label ?? t('common.copy'))}
    </button>
  );
}

/** A secret or snippet in a scrollable block (it wraps on phones) with its copy button. */
export function CodeBlock({ text, label }: { text: string; label?: string }) {
  return (
    <div className="code">
      <pre>
        <code>{text}</code>
      </pre>
      <CopyButton text={text} label={label} />
    </div>
  );
}

export function NotAllowed() {
  const { t } = useI18n();
  return (
    <Card title={t('access.notAllowedTitle')}>
      <p>{t('access.notAllowed')}</p>
      <p>
        <Link href="/">{t('nav.home')}</Link>
      </p>
    </Card>
  );
}

/**
 * A destructive action asked twice: the first press shows a button that says what will happen,
 * and a cancel; nothing is done until that second press. The second press must be deliberate: the
 * confirm button ignores the later clicks of a double-click (which would land on it), and focus
 * moves to Cancel, so a repeated Enter backs out instead of confirming.
 */
export function ConfirmButton({
  label,
  confirmLabel,
  onConfirm,
  pending = false,
  small = false,
}: {
  label: string;
  confirmLabel: string;
  onConfirm: () => void;
  pending?: boolean;
  small?: boolean;
}) {
  const { t } = useI18n();
  const [confirming, setConfirming] = useState(false);
  const cancel = useRef<HTMLButtonElement>(null);
  // A layout effect: focus moves before the next key press is handled, so a second Enter cannot
  // reach the confirm button (React reuses the first button's element for it).
  useLayoutEffect(() => {
    if (confirming) cancel.current?.focus();
  }, [confirming]);
  const size = small ? ' small' : '';
  return confirming ? (
    <>
      <button
        type="button"
        className={`danger${size}`}
        disabled={pending}
        onClick={(event) => {
          if (confirmAccepted(event.detail)) onConfirm();
        }}
      >
        {confirmLabel}
      </button>
      <button type="button" ref={cancel} className={`secondary${size}`} onClick={() => setConfirming(false)}>
        {t('common.cancel')}
      </button>
    </>
  ) : (
    <button type="button" className={`secondary${size}`} onClick={() => setConfirming(true)}>
      {label}
    </button>
  );
}
