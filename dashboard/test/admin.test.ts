// The admin pages' logic (dashboard/src/lib/admin.ts and the access levels of lib/access.ts), in
// Node: account conditions and cooldown countdowns, pool utilisation, budget bars, range presets,
// cost per day from the hourly read-out, key labels, department lists, top-N folding, CSV, and who
// sees which admin page.
import { describe, expect, it } from 'vitest';
import type { Schemas } from '../src/api/client';
import { adminEn } from '../src/i18n/admin.en';
import { adminZhCN } from '../src/i18n/admin.zh-CN';
import {
  budgetScopes,
  managedScopeValues,
  managesAnything,
  managesGroup,
  mayChangeBudget,
  ownsEnterprise,
  runEnterpriseIds,
  runsEnterprise,
} from '../src/lib/access';
import {
  type AccountState,
  accountCondition,
  axisLabels,
  budgetBar,
  budgetsInAlertScope,
  budgetTargetName,
  cooldownEnds,
  costPerDay,
  dailyCost,
  departmentOptions,
  formatCountdown,
  keyLabel,
  percent,
  poolUtilisation,
  presetRange,
  toCsv,
  topN,
} from '../src/lib/admin';

const NOW = 1_800_000_000_000;

function state(over: Partial<AccountState> = {}): AccountState {
  return {
    accountId: 'a',
    enabled: true,
    reason: null,
    inUse: 0,
    max: 4,
    queued: 0,
    health: 1,
    unavailableUntil: null,
    windowUsedPercent: null,
    nearLimitUntil: null,
    cooldownUntil: null,
    consecutiveFailures: 0,
    latencyEwmaMs: null,
    lastSuccessAt: null,
    leases: [],
    recentErrors: [],
    windows: [],
    oauth: null,
    ...over,
  };
}

describe('an account in words', () => {
  it('is disabled, cooling, full, busy or idle, in that order of precedence', () => {
    expect(accountCondition(state({ enabled: false, cooldownUntil: NOW + 1000 }), NOW)).toBe('disabled');
    expect(accountCondition(state({ cooldownUntil: NOW + 1000, inUse: 4 }), NOW)).toBe('cooling');
    expect(accountCondition(state({ unavailableUntil: NOW + 1 }), NOW)).toBe('cooling');
    expect(accountCondition(state({ cooldownUntil: NOW - 1 }), NOW)).toBe('idle');
    expect(accountCondition(state({ inUse: 4 }), NOW)).toBe('full');
    expect(accountCondition(state({ inUse: 1 }), NOW)).toBe('busy');
    expect(accountCondition(state(), NOW)).toBe('idle');
  });

  it('serves again at the later of cooldown and unavailability; null when it can now', () => {
    expect(cooldownEnds(state({ cooldownUntil: NOW + 5000, unavailableUntil: NOW + 9000 }), NOW)).toBe(
      NOW + 9000,
    );
    expect(cooldownEnds(state({ cooldownUntil: NOW - 1 }), NOW)).toBeNull();
    expect(cooldownEnds(state(), NOW)).toBeNull();
  });

  it('counts down in hours and minutes, minutes and seconds, or seconds', () => {
    expect(formatCountdown(3_723_000)).toBe('1h 02m');
    expect(formatCountdown(245_000)).toBe('4m 05s');
    expect(formatCountdown(12_000)).toBe('12s');
    expect(formatCountdown(11_001)).toBe('12s');
    expect(formatCountdown(-5)).toBe('0s');
  });
});

describe('bars', () => {
  it('percent is clamped to 0..100 and empty for a zero whole', () => {
    expect(percent(1, 4)).toBe(25);
    expect(percent(9, 4)).toBe(100);
    expect(percent(1, 0)).toBe(0);
    expect(percent(-1, 4)).toBe(0);
  });

  it('a pool sums leases in use over the capacity of accounts that can serve', () => {
    const pools = poolUtilisation(
      [
        { provider: 'anthropic', state: state({ inUse: 2, max: 4 }) },
        { provider: 'anthropic', state: state({ inUse: 1, max: 4 }) },
        { provider: 'anthropic', state: state({ max: 4, cooldownUntil: NOW + 60_000 }) },
        { provider: 'anthropic', state: state({ max: 4, enabled: false }) },
        { provider: 'openai', state: undefined },
      ],
      NOW,
    );
    expect(pools).toEqual([
      { provider: 'anthropic', accounts: 4, inUse: 3, max: 8, cooling: 1, disabled: 1, percent: 37.5 },
      { provider: 'openai', accounts: 1, inUse: 0, max: 0, cooling: 0, disabled: 0, percent: 0 },
    ]);
  });

  it('a budget bar shows spent then reserved, and is over once they reach the limit', () => {
    expect(budgetBar(10_000_000, 2_500_000, 1_000_000)).toEqual({
      spentPercent: 25,
      reservedPercent: 10,
      spent: 2_500_000,
      reserved: 1_000_000,
      limit: 10_000_000,
      remaining: 6_500_000,
      over: false,
    });
    const over = budgetBar(1_000_000, 900_000, 300_000);
    expect(over.over).toBe(true);
    expect(over.spentPercent + over.reservedPercent).toBe(100);
    expect(over.remaining).toBe(0);
    expect(budgetBar(1_000_000, 1_000_000).over).toBe(true);
    expect(budgetBar(5_000_000, null)).toMatchObject({
      spent: 0,
      reserved: 0,
      over: false,
      remaining: 5_000_000,
    });
    // A limit of zero refuses everything: the bar says so.
    expect(budgetBar(0, 0).over).toBe(true);
  });
});

describe('usage shaping', () => {
  it('range presets start at local midnights and month starts', () => {
    const now = new Date(2026, 10, 28, 15, 30);
    expect(presetRange('today', now)).toEqual({ from: new Date(2026, 10, 28).getTime(), to: now.getTime() });
    expect(presetRange('7d', now).from).toBe(new Date(2026, 10, 22).getTime());
    expect(presetRange('month', now).from).toBe(new Date(2026, 10, 1).getTime());
    expect(presetRange('lastMonth', now)).toEqual({
      from: new Date(2026, 9, 1).getTime(),
      to: new Date(2026, 10, 1).getTime(),
    });
    expect(presetRange('lastMonth', new Date(2026, 0, 15)).from).toBe(new Date(2025, 11, 1).getTime());
  });

  it('cost per day has one point per day of the range, summing its hours', () => {
    const from = new Date(2026, 10, 1).getTime();
    const to = new Date(2026, 10, 4).getTime();
    const hour = (day: number, h: number, costMicros: number) =>
      ({ hour: new Date(2026, 10, day, h).getTime(), costMicros }) as Schemas['Usage']['byHour'][number];
    const days = costPerDay([hour(1, 3, 100), hour(1, 23, 50), hour(3, 0, 7), hour(9, 0, 999)], from, to);
    expect(days).toEqual([
      { day: new Date(2026, 10, 1).getTime(), costMicros: 150 },
      { day: new Date(2026, 10, 2).getTime(), costMicros: 0 },
      { day: new Date(2026, 10, 3).getTime(), costMicros: 7 },
    ]);
  });

  it('over more than 7 days, cost per day comes from byDay as UTC days (byHour is empty there)', () => {
    const DAY = 86_400_000;
    const from = Date.UTC(2026, 10, 1, 5); // a local midnight at UTC-5
    const to = Date.UTC(2026, 10, 29, 12);
    const line = (day: number, costMicros: number) =>
      ({ day, costMicros }) as Schemas['Usage']['byDay'][number];
    const { utc, days } = dailyCost({
      from,
      to,
      byHour: [],
      // The first edge as the API has been seen to give it: the hour, not the day start.
      byDay: [line(Date.UTC(2026, 10, 1, 5), 40_000), line(Date.UTC(2026, 10, 3), 30_000)],
    });
    expect(utc).toBe(true);
    expect(days).toHaveLength(29);
    expect(days[0]).toEqual({ day: Date.UTC(2026, 10, 1), costMicros: 40_000 });
    expect(days[1]).toEqual({ day: Date.UTC(2026, 10, 1) + DAY, costMicros: 0 });
    expect(days[2]).toEqual({ day: Date.UTC(2026, 10, 3), costMicros: 30_000 });
    expect(days.reduce((sum, d) => sum + d.costMicros, 0)).toBe(70_000);
    // Up to 7 days: the viewer's days from the hours.
    const week = dailyCost({
      from: new Date(2026, 10, 22).getTime(),
      to: new Date(2026, 10, 28, 15).getTime(),
      byHour: [
        { hour: new Date(2026, 10, 23, 2).getTime(), costMicros: 9 } as Schemas['Usage']['byHour'][number],
      ],
      byDay: [],
    });
    expect(week.utc).toBe(false);
    expect(week.days[1]).toEqual({ day: new Date(2026, 10, 23).getTime(), costMicros: 9 });
  });

  it('leaves a repeated y-axis label blank', () => {
    const format = (v: number) => `$${(v / 1_000_000).toFixed(4)}`;
    expect(axisLabels([0, 20, 40, 60, 80, 100], format)).toEqual(['$0.0000', '', '', '$0.0001', '', '']);
  });

  it('names a budget’s target from what the viewer reads, never by a raw composite id', () => {
    const names = {
      enterprises: new Map([['e', 'Acme']]),
      departments: new Map([['d', 'Sales › EMEA']]),
      groups: new Map([['g', 'Sales bots']]),
      members: new Map([['g', new Map([['u', 'Mia']])]]),
      keys: new Map([['k', 'laptop (cp-abc…wxyz)']]),
    };
    const b = (scope: string, scopeId: string, over: Partial<Schemas['Budget']> = {}) => ({
      scope,
      scopeId,
      groupId: null,
      userId: null,
      keyId: null,
      ...over,
    });
    expect(budgetTargetName(b('enterprise', 'e'), names)).toBe('Acme');
    expect(budgetTargetName(b('department', 'd'), names)).toBe('Sales › EMEA');
    expect(budgetTargetName(b('group', 'g', { groupId: 'g' }), names)).toBe('Sales bots');
    expect(budgetTargetName(b('member', 'g:u', { groupId: 'g', userId: 'u' }), names)).toBe(
      'Mia · Sales bots',
    );
    expect(budgetTargetName(b('key', 'k', { groupId: 'g', keyId: 'k' }), names)).toBe(
      'laptop (cp-abc…wxyz) · Sales bots',
    );
    // What cannot be read stays the plain id, not "g:u".
    expect(budgetTargetName(b('member', 'x:v', { groupId: 'x', userId: 'v' }), names)).toBe('v');
  });

  it('an alert rule’s budget picker lists only the budgets of its scope', () => {
    const budgets = [
      { id: 'ent', enterpriseId: 'e', groupId: null },
      { id: 'grp', enterpriseId: 'e', groupId: 'g' },
      { id: 'other', enterpriseId: 'e', groupId: 'h' },
      { id: 'carpool', enterpriseId: null, groupId: 'c' },
    ];
    const ids = (scope: Parameters<typeof budgetsInAlertScope>[1]) =>
      budgetsInAlertScope(budgets, scope).map((b) => b.id);
    expect(ids({ kind: 'group', id: 'g' })).toEqual(['grp']);
    expect(ids({ kind: 'enterprise', id: 'e' })).toEqual(['ent', 'grp', 'other']);
    expect(ids({ kind: 'system' })).toEqual(['ent', 'grp', 'other', 'carpool']);
  });

  it('names a key by its name and prefix, its prefix alone, or, once it is gone, its id', () => {
    expect(keyLabel({ name: 'laptop', prefix: 'cp-abc123…wxyz' }, 'k1')).toBe('laptop (cp-abc123…wxyz)');
    expect(keyLabel({ name: '', prefix: 'cp-abc123…wxyz' }, 'k1')).toBe('cp-abc123…wxyz');
    expect(keyLabel({ name: null, prefix: null }, 'k1')).toBe('k1');
  });

  it('lists departments as a tree: each top-level one, then its sub-departments named under it', () => {
    const dept = (id: string, name: string, parentId: string | null = null) => ({ id, name, parentId });
    expect(
      departmentOptions([
        dept('b', 'Backend', 'e'),
        dept('e', 'Engineering'),
        dept('s', 'Sales'),
        dept('f', 'Frontend', 'e'),
      ]),
    ).toEqual([
      { value: 'e', label: 'Engineering' },
      { value: 'b', label: 'Engineering › Backend' },
      { value: 'f', label: 'Engineering › Frontend' },
      { value: 's', label: 'Sales' },
    ]);
  });

  it('keeps the largest rows and folds the rest into one', () => {
    const rows = [
      { m: 'a', v: 1 },
      { m: 'b', v: 5 },
      { m: 'c', v: 3 },
      { m: 'd', v: 2 },
    ];
    expect(
      topN(
        rows,
        (r) => r.m,
        (r) => r.v,
        3,
        'other',
      ),
    ).toEqual([
      { label: 'b', value: 5 },
      { label: 'c', value: 3 },
      { label: 'other', value: 3 },
    ]);
    expect(
      topN(
        rows,
        (r) => r.m,
        (r) => r.v,
        4,
        'other',
      ),
    ).toHaveLength(4);
  });

  it('writes RFC 4180 CSV', () => {
    expect(
      toCsv(
        ['a', 'b'],
        [
          ['x,y', 'say "hi"'],
          [1, null],
        ],
      ),
    ).toBe('a,b\r\n"x,y","say ""hi"""\r\n1,');
  });
});

describe('who sees the admin pages', () => {
  const me = (over: Partial<Schemas['Me']>): Schemas['Me'] => ({
    kind: 'user',
    userId: 'u',
    systemRole: 'user',
    via: 'session',
    enterprises: [],
    groups: [],
    ...over,
  });
  it('an enterprise owner runs and owns it; an admin runs it; a member neither', () => {
    const viewer = me({
      enterprises: [
        { enterpriseId: 'e1', role: 'owner' },
        { enterpriseId: 'e2', role: 'admin' },
        { enterpriseId: 'e3', role: 'member' },
      ],
    });
    expect(runEnterpriseIds(viewer)).toEqual(['e1', 'e2']);
    expect([
      runsEnterprise(viewer, 'e1'),
      runsEnterprise(viewer, 'e2'),
      runsEnterprise(viewer, 'e3'),
    ]).toEqual([true, true, false]);
    expect([ownsEnterprise(viewer, 'e1'), ownsEnterprise(viewer, 'e2')]).toEqual([true, false]);
    expect(runsEnterprise(me({ systemRole: 'system_admin' }), 'any')).toBe(true);
  });
  it('offers to change a budget only to who may: never to the group owner below the enterprise’s', () => {
    const groupOwner = me({
      enterprises: [{ enterpriseId: 'e', role: 'member' }],
      groups: [{ groupId: 'g', role: 'owner' }],
    });
    const admin = me({ enterprises: [{ enterpriseId: 'e', role: 'admin' }] });
    const owner = me({ enterprises: [{ enterpriseId: 'e', role: 'owner' }] });
    const onGroup = (authority: 'enterprise' | 'group' | 'holder') =>
      ({ scope: 'group', authority, enterpriseId: 'e', groupId: 'g' }) as const;
    const department = {
      scope: 'department',
      authority: 'enterprise',
      enterpriseId: 'e',
      groupId: null,
    } as const;
    expect([groupOwner, admin, owner].map((m) => mayChangeBudget(m, onGroup('enterprise')))).toEqual([
      false,
      true,
      true,
    ]);
    expect([groupOwner, admin, owner].map((m) => mayChangeBudget(m, onGroup('group')))).toEqual([
      true,
      true,
      true,
    ]);
    expect([groupOwner, admin, owner].map((m) => mayChangeBudget(m, department))).toEqual([
      false,
      false,
      true,
    ]);
    expect(mayChangeBudget(me({ systemRole: 'system_admin' }), department)).toBe(true);
    expect(mayChangeBudget(me({ groups: [{ groupId: 'g', role: 'member' }] }), onGroup('group'))).toBe(false);
  });
  it('offers only the budget scopes and alert scopes the role may set (the API answers 403 to the rest)', () => {
    const carpool = { id: 'c', enterpriseId: null };
    const entGroup = { id: 'g', enterpriseId: 'e' };
    const member = me({ groups: [{ groupId: 'c', role: 'member' }] });
    const memberAndOwner = me({
      groups: [
        { groupId: 'c', role: 'member' },
        { groupId: 'o', role: 'owner' },
      ],
    });
    const admin = me({ enterprises: [{ enterpriseId: 'e', role: 'admin' }] });
    const owner = me({ enterprises: [{ enterpriseId: 'e', role: 'owner' }] });
    // group.manage: the owner, the enterprise's owners and admins; never a plain member.
    expect(managesGroup(member, carpool)).toBe(false);
    expect(managesGroup(admin, entGroup)).toBe(true);
    expect(managesGroup(admin, carpool)).toBe(false);
    // A plain member: their own keys only; no group or member budget.
    expect(budgetScopes(member, [carpool])).toEqual(['key']);
    expect(budgetScopes(memberAndOwner, [carpool, { id: 'o', enterpriseId: null }])).toEqual([
      'group',
      'member',
      'key',
    ]);
    // An enterprise admin: its groups, not the enterprise or its departments (enterprise.manage).
    expect(budgetScopes(admin, [entGroup])).toEqual(['group', 'member', 'key']);
    expect(budgetScopes(owner, [entGroup])).toEqual(['enterprise', 'department', 'group', 'member', 'key']);
    expect(budgetScopes(null, [carpool])).toEqual([]);
    // Alerts: an enterprise takes its owner; its admin gets its groups. The audit log: either.
    const enterprises = [{ id: 'e' }];
    expect(managedScopeValues('alerts', admin, enterprises, [entGroup, carpool])).toEqual(['group:g']);
    expect(managedScopeValues('audit', admin, enterprises, [entGroup])).toEqual(['enterprise:e', 'group:g']);
    expect(managedScopeValues('alerts', owner, enterprises, [entGroup])).toEqual(['enterprise:e', 'group:g']);
    expect(managedScopeValues('alerts', me({ systemRole: 'system_admin' }), [], [])).toEqual(['system']);
    expect(managedScopeValues('alerts', member, [], [carpool])).toEqual([]);
  });
  it('manages anything: a system admin, who runs an enterprise, or owns a group; not a plain member', () => {
    expect(managesAnything(me({ systemRole: 'system_admin' }))).toBe(true);
    expect(managesAnything(me({ enterprises: [{ enterpriseId: 'e', role: 'admin' }] }))).toBe(true);
    expect(managesAnything(me({ groups: [{ groupId: 'g', role: 'owner' }] }))).toBe(true);
    expect(
      managesAnything(
        me({
          groups: [{ groupId: 'g', role: 'member' }],
          enterprises: [{ enterpriseId: 'e', role: 'member' }],
        }),
      ),
    ).toBe(false);
    expect(managesAnything(null)).toBe(false);
  });
});

describe('the admin catalogs', () => {
  it('translate every key, with the same placeholders', () => {
    for (const key of Object.keys(adminEn) as (keyof typeof adminEn)[]) {
      const names = (text: string) => [...text.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();
      expect(adminZhCN[key], key).toBeTruthy();
      expect(names(adminZhCN[key]), key).toEqual(names(adminEn[key]));
    }
  });
});
