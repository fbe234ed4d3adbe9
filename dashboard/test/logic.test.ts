// The dashboard's own logic, in Node: money and token formatting, forms → API inputs, client
// snippets, answers of a test request, the sign-in redirect, and the catalogs.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { ApiFailure } from '../src/api/client';
import { type Language, translate } from '../src/i18n';
import { en } from '../src/i18n/en';
import { zhCN } from '../src/i18n/zh-CN';
import { confirmAccepted } from '../src/lib/confirm';
import { apiFailureText, type FieldLabels, optionLabels } from '../src/lib/errors';
import {
  budgetInWords,
  formatMicros,
  formatMicrosAt,
  formatShare,
  formatTokens,
  monthStart,
  parseDollars,
  precisionFor,
  roundMicros,
} from '../src/lib/format';
import {
  connectionInput,
  FormError,
  inviteInputFromForm,
  inviteLink,
  keyRulesFromForm,
  tokenExpiry,
  wholeNumber,
} from '../src/lib/forms';
import { answerText, familyOf, probeModel } from '../src/lib/probe';
import { safeNext } from '../src/lib/redirect';
import { CLIENTS, snippetFor } from '../src/lib/snippets';

describe('money', () => {
  it('shows micro-dollars as dollars, keeping tiny amounts visible', () => {
    expect(formatMicros(0)).toBe('$0.00');
    expect(formatMicros(12_345_678)).toBe('$12.35');
    expect(formatMicros(4_200)).toBe('$0.0042');
    expect(formatMicros(10_000)).toBe('$0.01');
    expect(formatMicros(-1_500_000)).toBe('-$1.50');
    expect(formatMicros(1_234_000_000)).toBe('$1,234.00');
  });
  it('parses typed dollars into integer micro-dollars', () => {
    expect(parseDollars('12.5')).toBe(12_500_000);
    expect(parseDollars('$3')).toBe(3_000_000);
    expect(parseDollars('0.000001')).toBe(1);
    expect(parseDollars('1.0000001')).toBeNull();
    expect(parseDollars('-1')).toBeNull();
    expect(parseDollars('abc')).toBeNull();
  });
  it('rounds micro-dollars half away from zero to a number of decimals, staying integers', () => {
    expect(roundMicros(17_500, 2)).toBe(20_000);
    expect(roundMicros(14_999, 2)).toBe(10_000);
    expect(roundMicros(-5_000, 2)).toBe(-10_000);
    expect(roundMicros(-4_999, 2)).toBe(0);
    expect(roundMicros(33_333_334, 6)).toBe(33_333_334);
    expect(formatMicrosAt(17_500, 4)).toBe('$0.0175');
    expect(formatMicrosAt(-1_005_000, 2)).toBe('-$1.01');
    expect(formatMicrosAt(1_234_000_000, 2)).toBe('$1,234.00');
  });
  it('picks the fewest decimals at which the parts add up as shown', () => {
    expect(precisionFor([{ parts: [50_000_000, 50_000_000], whole: 100_000_000 }])).toBe(2);
    expect(precisionFor([{ parts: [17_500, 17_500, 17_500, 17_500], whole: 70_000 }])).toBe(4);
    expect(precisionFor([{ parts: [1, 2], whole: 3 }])).toBe(6);
    // A part that is not zero must not read $0.00 unless allowed.
    expect(precisionFor([{ parts: [396, 0], whole: 396 }])).toBe(4);
    expect(precisionFor([{ parts: [200_000_000, 396], whole: 200_000_396, keepNonZero: false }])).toBe(2);
  });
  it('shares are percentages of the whole, 0 when there is nothing', () => {
    expect(formatShare(1, 3)).toBe('33.3%');
    expect(formatShare(5, 0)).toBe('0%');
  });
});

describe('API refusals', () => {
  const say = (language: Language, failure: ApiFailure) =>
    apiFailureText(failure, (key, values) => translate(language, key, values), language);
  // The client's ApiFailure reads the page's location when loaded: the same shape, built here.
  const refusal = (status: number, code: string, message: string, details?: unknown) =>
    Object.assign(new Error(message), { status, code, details }) as ApiFailure;

  it('in English, as the server says them', () => {
    const failure = refusal(401, 'unauthorized', 'Wrong email or password.', {
      status: 'wrong_credentials',
    });
    expect(say('en', failure)).toBe('Wrong email or password.');
    expect(say('en', refusal(400, 'invalid_request', 'name: Too big'))).toBe('name: Too big');
  });

  it('in Chinese: named refusals and rate limits in full, others with their code’s words', () => {
    // Every refusal the API names in details.status (worker/domain) has its own words.
    for (const status of [
      'wrong_credentials',
      'wrong_password',
      'account_exists',
      'wrong_email',
      'already_member',
      'group_full',
      'revoked',
      'expired',
      'used_up',
      'sign_in_again',
    ]) {
      const text = say('zh-CN', refusal(409, 'conflict', 'English words', { status }));
      expect(text, status).not.toMatch(/[A-Za-z]/);
    }
    expect(
      say('zh-CN', refusal(401, 'unauthorized', 'Wrong email or password.', { status: 'wrong_credentials' })),
    ).toBe('邮箱或密码错误。');
    expect(say('zh-CN', refusal(429, 'rate_limited', 'Too many.', { retryAfterSeconds: 42 }))).toBe(
      '尝试次数过多，请 42 秒后再试。',
    );
    // The field and the rule stay as the server wrote them, after words the reader can read.
    expect(say('zh-CN', refusal(400, 'invalid_request', 'name: Too big'))).toBe('请求被拒绝：name: Too big');
    // A code this dashboard does not know: the server's message as it is.
    expect(say('zh-CN', refusal(418, 'teapot', 'short and stout'))).toBe('short and stout');
  });

  it('a refusal of fields, said from its issues in the reader’s language, naming the form’s labels', () => {
    // As the API sends them (worker/api/errors.ts validationIssues), for a form that names its fields.
    const failure = refusal(
      400,
      'invalid_request',
      'Invalid json: name: Too big: expected string to have <=100 characters; limitMicros: Too big: expected number to be <=1000000000000; baseUrl: Invalid URL; timeZone: not an IANA time zone (a name such as Europe/Paris or UTC, not an offset); maxMembers: Invalid input: expected number, received undefined',
      [
        {
          path: 'name',
          code: 'too_big',
          message: 'Too big',
          origin: 'string',
          maximum: 100,
          inclusive: true,
        },
        {
          path: 'limitMicros',
          code: 'too_big',
          message: 'Too big',
          origin: 'number',
          maximum: 1_000_000_000_000,
          inclusive: true,
        },
        { path: 'baseUrl', code: 'invalid_format', message: 'Invalid URL', format: 'url' },
        { path: 'timeZone', code: 'custom', message: 'not an IANA time zone', rule: 'time_zone' },
        {
          path: 'maxMembers',
          code: 'invalid_type',
          message: 'Invalid input',
          expected: 'number',
          required: true,
        },
      ],
    );
    const labels = (language: Language) => {
      const t = (key: Parameters<typeof translate>[1]) => translate(language, key);
      return {
        name: t('newGroup.name'),
        maxMembers: t('newGroup.maxMembers'),
        limitMicros: {
          label: t('adm.budgets.limit'),
          value: (n: number) => `$${(n / 1e6).toLocaleString('en')}`,
        },
        baseUrl: t('bind.baseUrl'),
      };
    };
    const sayWith = (language: Language) =>
      apiFailureText(failure, (key, values) => translate(language, key, values), language, labels(language));
    const zh = sayWith('zh-CN');
    expect(zh).toContain('“组名”太长：最多 100 个字符。');
    expect(zh).toContain('太大：不能大于 $1,000,000。');
    expect(zh).toContain('不是有效的网址。');
    expect(zh).toContain('“最多成员数”为必填项。');
    // No English left but the time zone names the rule gives as examples, the catalog's own
    // label "Base URL" (kept as is in zh-CN) and a field the form does not name, said by its API path.
    expect(zh.replace(/Asia\/Shanghai|UTC|timeZone|Base URL/g, '')).not.toMatch(/[A-Za-z]/);
    expect(zh).toContain('“timeZone”不是时区');

    const en = sayWith('en');
    expect(en).toBe(
      [
        '“Group name” is too long: at most 100 characters.',
        `“${translate('en', 'adm.budgets.limit')}” is too large: it must be $1,000,000 or less.`,
        `“${translate('en', 'bind.baseUrl')}” is not a valid URL.`,
        '“timeZone” is not a time zone: use a name such as Europe/Paris or UTC, not an offset.',
        '“Members at most” is required.',
      ].join(' '),
    );

    // A rule the dashboard has no words for: the server's words after the field's name.
    const other = refusal(400, 'invalid_request', 'Invalid json: url: must be https', [
      { path: 'url', code: 'custom', message: 'must be https' },
    ]);
    expect(say('zh-CN', other)).toBe('“url”无效：must be https');
    // Details that are not issues: as before.
    const sentences = refusal(400, 'invalid_request', 'Something: x.', ['x']);
    expect(say('zh-CN', sentences)).toBe('请求被拒绝：Something: x.');
    expect(say('en', sentences)).toBe('Something: x.');
  });

  it('a key outside its group’s bounds: each bound said, in the key form’s words', () => {
    // As the API sends them (worker/auth/key-bounds.ts).
    const rule = { code: 'custom', rule: 'outside_key_bounds', message: 'English words' };
    const failure = refusal(400, 'invalid_request', 'Outside the group’s key bounds: …', [
      { ...rule, path: 'allowedModels.1', values: ['claude-haiku-*', 'gpt-5'] },
      { ...rule, path: 'maxConcurrency', maximum: 2 },
      { ...rule, path: 'expiresAt', maximum: 7 * 86_400_000 },
      { ...rule, path: 'requestsPerWindow' },
    ]);
    const sayWith = (language: Language) => {
      const t = (key: Parameters<typeof translate>[1]) => translate(language, key);
      return apiFailureText(failure, (key, values) => translate(language, key, values), language, {
        allowedModels: t('keys.models'),
        maxConcurrency: t('keys.maxConcurrency'),
        expiresAt: { label: t('keys.expiresInDays'), value: (ms) => String(ms / 86_400_000) },
      });
    };
    expect(sayWith('zh-CN')).toBe(
      [
        '“模型”超出了该组对密钥的限制：只允许 claude-haiku-*、gpt-5。',
        '“最大并发请求数”超出了该组对密钥的限制：最多 2。',
        '“有效期（天）”超出了该组对密钥的限制：最多 7。',
        '“requestsPerWindow”超出了该组对密钥的限制。',
      ].join(''),
    );
    expect(sayWith('en')).toBe(
      [
        '“Models” goes beyond what the group allows its keys: only claude-haiku-*, gpt-5.',
        '“Concurrent requests at most” goes beyond what the group allows its keys: at most 2.',
        '“Expires in (days)” goes beyond what the group allows its keys: at most 7.',
        '“requestsPerWindow” goes beyond what the group allows its keys.',
      ].join(' '),
    );
  });

  it('allowed values said as the form shows its options, where it labels them', () => {
    const failure = refusal(400, 'invalid_request', 'Invalid json: period: Invalid option', [
      { path: 'period', code: 'invalid_value', message: 'Invalid option', values: ['day', 'month', 'year'] },
    ]);
    const sayWith = (language: Language) => {
      const t = (key: Parameters<typeof translate>[1]) => translate(language, key);
      const fields: FieldLabels = {
        period: {
          label: t('adm.budgets.period'),
          options: optionLabels(['day', 'month'] as const, (p) => t(`adm.period.${p}`)),
        },
      };
      return apiFailureText(failure, (key, values) => translate(language, key, values), language, fields);
    };
    // A value the form has no option for ("year") stays as the API says it.
    expect(sayWith('zh-CN')).toBe(
      `“${translate('zh-CN', 'adm.budgets.period')}”必须是以下之一：${translate('zh-CN', 'adm.period.day')}、${translate('zh-CN', 'adm.period.month')}、year。`,
    );
    expect(sayWith('en')).toBe('“Period” must be one of: Daily, Monthly, year.');
  });

  it('every rule the API names is documented, and said in both catalogs', () => {
    // Read from the worker's source: a rule added there without words here fails this test.
    const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
    const named = new Set<string>();
    for (const file of readdirSync(join(root, 'worker'), { recursive: true, encoding: 'utf8' })) {
      if (!file.endsWith('.ts')) continue;
      for (const m of readFileSync(join(root, 'worker', file), 'utf8').matchAll(/rule: '([a-z_]+)'/g))
        named.add(m[1]!);
    }
    expect(named.size).toBeGreaterThan(20);
    const docs = readFileSync(join(root, 'docs', 'api.md'), 'utf8');
    for (const rule of named) {
      expect(docs, `${rule} in docs/api.md`).toContain(`\`${rule}\``);
      const issue = { path: 'x', code: 'custom', message: 'English words', rule };
      const text = say('zh-CN', refusal(400, 'invalid_request', 'English words', [issue]));
      // Left in Latin letters: the field's path, names given as examples or to type (time zones,
      // http(s), claude-*, models/, api-version, Bedrock's JSON fields).
      const examples =
        /\bx\b|Asia\/Shanghai|UTC|https?|claude-\*|models\/|api-version|JSON|Bedrock|accessKeyId|secretAccessKey|region|sessionToken/g;
      expect(text.replace(examples, ''), rule).not.toMatch(/[A-Za-z]/);
      expect(text, rule).not.toContain('English words');
      const en = say('en', refusal(400, 'invalid_request', 'English words', [issue]));
      expect(en, rule).not.toContain('English words');
    }
  });
});

describe('key lookup', () => {
  it('says a key’s budgets in the page’s language, not as raw API words', () => {
    const row = { scope: 'group', period: 'month', mode: 'hard' };
    const en = (key: Parameters<typeof translate>[1], v?: Record<string, string | number>) =>
      translate('en', key, v);
    const zh = (key: Parameters<typeof translate>[1], v?: Record<string, string | number>) =>
      translate('zh-CN', key, v);
    expect(budgetInWords(row, en)).toBe('Group · Monthly, refuse requests');
    expect(budgetInWords({ scope: 'key', period: 'total', mode: 'soft' }, en)).toBe(
      'Key · In total, alert only',
    );
    expect(budgetInWords(row, zh)).toBe('分组 · 每月，拒绝请求');
    // A value this dashboard does not know yet is shown as the API says it.
    expect(budgetInWords({ scope: 'team', period: 'month', mode: 'hard' }, en)).toBe(
      'team · Monthly, refuse requests',
    );
  });
});

describe('tokens and time', () => {
  it('counts tokens compactly', () => {
    expect(formatTokens(950)).toBe('950');
    expect(formatTokens(12_345)).toBe('12.3K');
    expect(formatTokens(4_500_000)).toBe('4.5M');
  });
  it('the month starts on its first day at midnight', () => {
    const start = new Date(monthStart(new Date(2026, 10, 28, 15, 30)));
    expect([start.getFullYear(), start.getMonth(), start.getDate(), start.getHours()]).toEqual([
      2026, 10, 1, 0,
    ]);
  });
});

describe('forms', () => {
  const now = 1_700_000_000_000;
  it('key rules leave empty fields out', () => {
    expect(keyRulesFromForm({ name: '', models: '', expiresInDays: '', maxConcurrency: '' }, now)).toEqual(
      {},
    );
    expect(
      keyRulesFromForm(
        { name: ' laptop ', models: 'claude-*, gpt-5  x', expiresInDays: '30', maxConcurrency: '2' },
        now,
      ),
    ).toEqual({
      name: 'laptop',
      allowedModels: ['claude-*', 'gpt-5', 'x'],
      expiresAt: now + 30 * 86_400_000,
      maxConcurrency: 2,
    });
  });
  it('refuses a filled-in number the API would not take, never putting a default in its place', () => {
    const now = 1_000;
    const key = (expiresInDays: string, maxConcurrency = '') =>
      keyRulesFromForm({ name: '', models: '', expiresInDays, maxConcurrency }, now);
    const refused = (f: () => unknown, field: string, min?: number) => {
      let error: unknown;
      try {
        f();
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(FormError);
      expect((error as FormError).field).toBe(field);
      if (min !== undefined) expect((error as FormError).min).toBe(min);
    };
    // A typo in "expires in" must not make a key that never expires.
    for (const days of ['0.5', 'abc', '-3', '0']) refused(() => key(days), 'keys.expiresInDays');
    // 0 or 1.5 concurrent requests is no limit the API knows: not "unlimited".
    for (const c of ['0', '1.5', 'x']) refused(() => key('', c), 'keys.maxConcurrency');
    expect(key(' 2 ', '3')).toEqual({ expiresAt: now + 2 * 86_400_000, maxConcurrency: 3 });
    // Invites: not 1 use or 7 days in place of what was typed.
    refused(() => inviteInputFromForm({ days: '', maxUses: '0', email: '' }), 'invites.maxUses');
    refused(() => inviteInputFromForm({ days: '-5', maxUses: '', email: '' }), 'invites.days');
    refused(() => inviteInputFromForm({ days: 'soon', maxUses: '', email: '' }), 'invites.days');
    expect(inviteInputFromForm({ days: '0.5', maxUses: '', email: '' })).toEqual({ expiresInMs: 43_200_000 });
    // A personal access token: empty or 0 is never (the form says so); -3 is refused.
    expect(tokenExpiry('', now)).toBeNull();
    expect(tokenExpiry('0', now)).toBeNull();
    expect(tokenExpiry('2', now)).toBe(now + 2 * 86_400_000);
    refused(() => tokenExpiry('-3', now), 'keys.expiresInDays', 0);
    refused(() => tokenExpiry('1.5', now), 'keys.expiresInDays', 0);
    // Seats and pool concurrency (the enterprise page).
    expect(wholeNumber('', 'adm.field.maxMembers')).toBeUndefined();
    refused(() => wholeNumber('0', 'adm.field.maxMembers'), 'adm.field.maxMembers', 1);
    refused(() => wholeNumber('abc', 'adm.field.maxConcurrency'), 'adm.field.maxConcurrency');
  });
  it('a two-step confirmation takes a click of its own, not the second click of a double-click', () => {
    expect(confirmAccepted(1)).toBe(true);
    // A keyboard press (Enter or Space on the focused button) has no click count.
    expect(confirmAccepted(0)).toBe(true);
    expect(confirmAccepted(2)).toBe(false);
    expect(confirmAccepted(3)).toBe(false);
  });
  it('invite input and link', () => {
    expect(inviteInputFromForm({ days: '7', maxUses: '1', email: '' })).toEqual({
      expiresInMs: 7 * 86_400_000,
      maxUses: 1,
    });
    expect(inviteInputFromForm({ days: '', maxUses: '', email: ' a@b.c ' })).toEqual({ email: 'a@b.c' });
    expect(inviteLink('a/b', 'https://relay.example')).toBe('https://relay.example/invite/a%2Fb');
  });
  it('connection input takes a preset over a base URL', () => {
    const form = {
      provider: 'openai-compatible' as const,
      preset: 'kimi' as const,
      baseUrl: 'https://x',
      credential: ' k ',
    };
    expect(connectionInput(form)).toEqual({ provider: 'openai-compatible', preset: 'kimi', credential: 'k' });
    expect(connectionInput({ ...form, preset: '' })).toEqual({
      provider: 'openai-compatible',
      baseUrl: 'https://x',
      credential: 'k',
    });
  });
});

describe('snippets and the test request', () => {
  it('every client gets the relay URL and the key', () => {
    for (const client of CLIENTS) {
      const text = snippetFor(client, 'https://relay.example/', 'cp-secret')
        .map((s) => s.text)
        .join('\n');
      expect(text).toContain('cp-secret');
      expect(text).toContain('https://relay.example');
      expect(text).not.toContain('example//');
    }
    expect(snippetFor('claude-code', 'https://r', 'cp-k')[0]!.text).toContain('ANTHROPIC_BASE_URL=https://r');
    expect(snippetFor('codex-cli', 'https://r', 'cp-k')[0]!.text).toContain('base_url = "https://r/v1"');
    expect(snippetFor('gemini-cli', 'https://r', 'cp-k')[0]!.text).toContain(
      'GOOGLE_GEMINI_BASE_URL=https://r',
    );
  });
  it('reads the answer in each dialect, or the error', () => {
    expect(answerText({ content: [{ type: 'text', text: 'hi' }] })).toBe('hi');
    expect(answerText({ choices: [{ message: { content: 'yo' } }] })).toBe('yo');
    expect(answerText({ candidates: [{ content: { parts: [{ text: 'g' }] } }] })).toBe('g');
    expect(answerText({ type: 'error', error: { type: 'x', message: 'bad key' } })).toBe('bad key');
    expect(familyOf('azure-openai')).toBe('openai');
    expect(familyOf('bedrock')).toBe('anthropic');
    expect(probeModel('anthropic', ['claude-*', 'my-model'])).toBe('my-model');
  });
  it('the sign-in redirect stays on this site', () => {
    expect(safeNext('/groups/1')).toBe('/groups/1');
    expect(safeNext('//evil.example')).toBe('/');
    expect(safeNext('https://evil.example')).toBe('/');
    expect(safeNext(null)).toBe('/');
  });
});

describe('catalogs', () => {
  it('Chinese translates every English string, with the same placeholders', () => {
    for (const [key, text] of Object.entries(en)) {
      const zh = zhCN[key as keyof typeof en];
      expect(zh, key).toBeTruthy();
      const placeholders = (s: string) => [...s.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();
      expect(placeholders(zh), key).toEqual(placeholders(text));
    }
    expect(Object.keys(zhCN).sort()).toEqual(Object.keys(en).sort());
  });
});
