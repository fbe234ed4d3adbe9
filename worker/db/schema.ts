// The durable data of AiCarpool (D1). Migrations in migrations/ are generated from this file by
// drizzle-kit; row types everywhere else are inferred from it.
import { sql } from 'drizzle-orm';
import { check, index, integer, primaryKey, sqliteTable, text, uniqueIndex } from 'drizzle-orm/sqlite-core';
import type { AlertEvent, AlertRuleParams } from '../alerts/event';
import type { KeyBounds } from '../auth/key-bounds';
import type { ClientRule, KeyService } from '../auth/key-rules';
import type { PriceTier } from '../metering/prices';
import { PROVIDER_KINDS } from '../providers/kinds';
import type { PolicyOverrides, PoolPolicies } from '../scheduling/policy';

const createdAt = () =>
  integer('created_at', { mode: 'number' })
    .notNull()
    .default(sql`(CAST(unixepoch('subsec') * 1000 AS INTEGER))`);

export const users = sqliteTable('users', {
  id: text('id').primaryKey(),
  email: text('email').notNull().unique(),
  name: text('name').notNull(),
  /** system_admin can do everything; everyone else gets rights from memberships. */
  systemRole: text('system_role', { enum: ['system_admin', 'user'] })
    .notNull()
    .default('user'),
  /** When a system admin disabled the person: no sign-in, no tokens, keys revoked; null: active. */
  disabledAt: integer('disabled_at'),
  /**
   * Self-describing PBKDF2 hash (worker/auth/password.ts): `pbkdf2-sha256$<iterations>$<salt>$<hash>`.
   * Null for a person who signs in only through OIDC, or who has not chosen a password yet.
   */
  passwordHash: text('password_hash'),
  createdAt: createdAt(),
});

export const enterprises = sqliteTable('enterprises', {
  id: text('id').primaryKey(),
  name: text('name').notNull(),
  /** Scheduling overrides per provider pool (worker/scheduling/policy.ts). */
  pools: text('pools', { mode: 'json' }).$type<PoolPolicies>(),
  createdAt: createdAt(),
});

export const enterpriseMembers = sqliteTable(
  'enterprise_members',
  {
    enterpriseId: text('enterprise_id')
      .notNull()
      .references(() => enterprises.id, { onDelete: 'cascade' }),
    userId: text('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    role: text('role', { enum: ['owner', 'admin', 'member'] }).notNull(),
    createdAt: createdAt(),
  },
  (t) => [primaryKey({ columns: [t.enterpriseId, t.userId] })],
);

export const departments = sqliteTable(
  'departments',
  {
    id: text('id').primaryKey(),
    enterpriseId: text('enterprise_id')
      .notNull()
      .references(() => enterprises.id, { onDelete: 'cascade' }),
    parentId: text('parent_id'),
    name: text('name').notNull(),
    createdAt: createdAt(),
  },
  // By parent: a department's sub-departments, for its usage and budgets (worker/db/group-scopes.ts).
  (t) => [
    index('departments_enterprise_idx').on(t.enterpriseId),
    index('departments_parent_idx').on(t.parentId),
  ],
);

export const accounts = sqliteTable(
  'accounts',
  {
    id: text('id').primaryKey(),
    name: text('name').notNull(),
    provider: text('provider', { enum: PROVIDER_KINDS }).notNull(),
    authKind: text('auth_kind', { enum: ['api_key', 'oauth', 'aws_sigv4'] })
      .notNull()
      .default('api_key'),
    /** AES-GCM ciphertext (see worker/auth/credentials.ts); never leaves the server in any response. */
    credentialsEnc: text('credentials_enc').notNull(),
    /**
     * Which sign-in a subscription account's tokens come from: one more with every sign-in again,
     * the same across the refreshes of one. A refresh writes its tokens back only while the row is
     * still of the generation the refresh started from, so a refresh of the old grant that
     * finishes after a new sign-in cannot replace it. (An API key is never refreshed.)
     */
    credentialGeneration: integer('credential_generation').notNull().default(0),
    baseUrl: text('base_url'),
    /** JSON object: client model → upstream model. */
    modelMapping: text('model_mapping', { mode: 'json' }).$type<Record<string, string>>(),
    /** JSON array of model patterns this account serves, replacing its family; null or empty: the family. */
    supportedModels: text('supported_models', { mode: 'json' }).$type<string[]>(),
    /** Enterprise pool this account belongs to; null for a carpool account. */
    enterpriseId: text('enterprise_id').references(() => enterprises.id),
    priority: integer('priority').notNull().default(100),
    weight: integer('weight').notNull().default(1),
    maxConcurrency: integer('max_concurrency').notNull().default(5),
    enabled: integer('enabled', { mode: 'boolean' }).notNull().default(true),
    disabledReason: text('disabled_reason'),
    /** A fixed monthly fee (a subscription plan), micro-dollars; part of a carpool's bill. */
    monthlyFeeMicros: integer('monthly_fee_micros').notNull().default(0),
    /**
     * Whether usage on this account is billed at API price. False for a subscription: its usage
     * still has an API-equivalent cost (which shares a bill by usage) but the bill is the fee.
     */
    meteredBilling: integer('metered_billing', { mode: 'boolean' }).notNull().default(true),
    createdAt: createdAt(),
    updatedAt: integer('updated_at').notNull().default(0),
  },
  (t) => [index('accounts_enterprise_idx').on(t.enterpriseId, t.provider)],
);

/**
 * An OAuth sign-in in progress (POST /accounts/oauth/start → /finish): the state is stored hashed,
 * bound to whoever started it, single use and short-lived; the PKCE verifier is encrypted.
 */
export const oauthFlows = sqliteTable('oauth_flows', {
  stateHash: text('state_hash').primaryKey(),
  kind: text('kind', { enum: ['claude-oauth', 'codex-oauth', 'gemini-oauth'] }).notNull(),
  /** `user:<id>` or `operator`: only the same principal may finish the flow. */
  principal: text('principal').notNull(),
  /** AES-GCM ciphertext of the PKCE code verifier (worker/auth/credentials.ts). */
  verifierEnc: text('verifier_enc').notNull(),
  /** JSON: where the account goes and its settings, as validated at the start. */
  target: text('target', { mode: 'json' }).$type<Record<string, unknown>>().notNull(),
  expiresAt: integer('expires_at').notNull(),
  createdAt: createdAt(),
});

export const groups = sqliteTable(
  'groups',
  {
    id: text('id').primaryKey(),
    name: text('name').notNull(),
    kind: text('kind', { enum: ['carpool', 'enterprise'] }).notNull(),
    enterpriseId: text('enterprise_id').references(() => enterprises.id),
    departmentId: text('department_id').references(() => departments.id),
    /** A carpool group is bound 1:1 to one exclusive account: unique (NULLs are distinct in SQLite). */
    boundAccountId: text('bound_account_id').references(() => accounts.id),
    maxMembers: integer('max_members').notNull().default(10),
    /** How the monthly bill is shared (worker/billing/split.ts). */
    splitMode: text('split_mode', { enum: ['usage', 'even', 'base_usage', 'window'] })
      .notNull()
      .default('usage'),
    /** Members who joined or left during a month pay for the days they were in. */
    prorateByDays: integer('prorate_by_days', { mode: 'boolean' }).notNull().default(false),
    /** IANA zone whose calendar months the bill follows. */
    timeZone: text('time_zone').notNull().default('UTC'),
    /**
     * Who pays the account's fixed fee (and its provider bill); null, or someone no longer in the
     * group: its first owner. No foreign key: SQLite cannot add one with ON DELETE to a table.
     */
    feePayerUserId: text('fee_payer_user_id'),
    /** This group's own scheduling overrides, applied over its enterprise pool's. */
    scheduling: text('scheduling', { mode: 'json' }).$type<PolicyOverrides>(),
    /** What a key of this group may allow at most (worker/auth/key-bounds.ts); null: no bounds. */
    keyBounds: text('key_bounds', { mode: 'json' }).$type<KeyBounds>(),
    createdAt: createdAt(),
  },
  (t) => [
    uniqueIndex('groups_bound_account_unique').on(t.boundAccountId),
    // Who runs an enterprise reads its groups (usage by enterprise or department, managed scopes).
    index('groups_enterprise_idx').on(t.enterpriseId),
    index('groups_department_idx').on(t.departmentId),
  ],
);

export const groupMembers = sqliteTable(
  'group_members',
  {
    groupId: text('group_id')
      .notNull()
      .references(() => groups.id, { onDelete: 'cascade' }),
    userId: text('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    role: text('role', { enum: ['owner', 'member'] }).notNull(),
    createdAt: createdAt(),
  },
  (t) => [primaryKey({ columns: [t.groupId, t.userId] }), index('group_members_user_idx').on(t.userId)],
);

/**
 * When each person was in each group: a row per stay, opened when a group_members row is inserted
 * and closed when it is deleted (triggers in the migration, so every path — add, invite, leave,
 * remove — keeps it). Bills prorate by it.
 */
export const membershipPeriods = sqliteTable(
  'membership_periods',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    groupId: text('group_id')
      .notNull()
      .references(() => groups.id, { onDelete: 'cascade' }),
    userId: text('user_id').notNull(),
    joinedAt: integer('joined_at').notNull(),
    /** Null while they are still in. */
    leftAt: integer('left_at'),
  },
  (t) => [index('membership_periods_group_idx').on(t.groupId, t.userId)],
);

/**
 * The cron's last failed attempt to close a group's month: failing groups go to the back of the
 * next run's queue, so a few that always fail cannot hold the others back.
 */
export const closeFailures = sqliteTable(
  'close_failures',
  {
    groupId: text('group_id')
      .notNull()
      .references(() => groups.id, { onDelete: 'cascade' }),
    month: text('month').notNull(),
    failedAt: integer('failed_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.groupId, t.month] })],
);

/**
 * A closed month of a group: immutable (triggers refuse UPDATE and DELETE). No foreign key to the
 * group, so a record of money owed outlives the group. Amounts in micro-dollars.
 */
export const statements = sqliteTable(
  'statements',
  {
    id: text('id').primaryKey(),
    groupId: text('group_id').notNull(),
    /** `YYYY-MM`, a calendar month in `timeZone`. */
    month: text('month').notNull(),
    timeZone: text('time_zone').notNull(),
    periodStart: integer('period_start').notNull(),
    periodEnd: integer('period_end').notNull(),
    splitMode: text('split_mode', { enum: ['usage', 'even', 'base_usage', 'window'] }).notNull(),
    prorateByDays: integer('prorate_by_days', { mode: 'boolean' }).notNull(),
    /**
     * The mode's weighting was empty (no usage; for `window`, no window share: an API-key account)
     * and the bill was split by presence instead.
     */
    splitFallback: integer('split_fallback', { mode: 'boolean' }).notNull().default(false),
    feePayerUserId: text('fee_payer_user_id'),
    accountId: text('account_id'),
    fixedFeeMicros: integer('fixed_fee_micros').notNull(),
    meteredMicros: integer('metered_micros').notNull(),
    lateMeteredMicros: integer('late_metered_micros').notNull(),
    billMicros: integer('bill_micros').notNull(),
    adjustmentsMicros: integer('adjustments_micros').notNull(),
    totalMicros: integer('total_micros').notNull(),
    /** How many adjustments it froze: a trigger checks it against the table when it is written. */
    adjustmentCount: integer('adjustment_count').notNull(),
    closedAt: integer('closed_at').notNull(),
    /** `user:<id>`, `operator` or `cron`. */
    closedBy: text('closed_by').notNull(),
  },
  (t) => [uniqueIndex('statements_group_month_unique').on(t.groupId, t.month)],
);

/**
 * A statement's line per person: what they used in the month (the snapshot late usage is measured
 * against), and what they owe. Immutable like the statement.
 */
export const statementLines = sqliteTable(
  'statement_lines',
  {
    statementId: text('statement_id').notNull(),
    userId: text('user_id').notNull(),
    userName: text('user_name').notNull(),
    daysPresent: integer('days_present').notNull(),
    requests: integer('requests').notNull(),
    inputTokens: integer('input_tokens').notNull(),
    outputTokens: integer('output_tokens').notNull(),
    cacheWrite5mTokens: integer('cache_write_5m_tokens').notNull(),
    cacheWrite1hTokens: integer('cache_write_1h_tokens').notNull(),
    cacheReadTokens: integer('cache_read_tokens').notNull(),
    /** API-equivalent cost of their usage in the month. */
    costMicros: integer('cost_micros').notNull(),
    /** The part of that on accounts billed at API price. */
    meteredMicros: integer('metered_micros').notNull(),
    lateCostMicros: integer('late_cost_micros').notNull(),
    lateMeteredMicros: integer('late_metered_micros').notNull(),
    /** Their summed share of the plan's usage window in the month (ppm of the window). */
    windowPpm: integer('window_ppm').notNull().default(0),
    feePartMicros: integer('fee_part_micros').notNull(),
    usagePartMicros: integer('usage_part_micros').notNull(),
    adjustmentsMicros: integer('adjustments_micros').notNull(),
    amountMicros: integer('amount_micros').notNull(),
  },
  (t) => [primaryKey({ columns: [t.statementId, t.userId] })],
);

/**
 * Usage that reached D1 after its month was closed, carried into a later statement: per person
 * and month of origin, the aggregate at that later close minus what earlier statements knew.
 */
export const statementLateUsage = sqliteTable(
  'statement_late_usage',
  {
    statementId: text('statement_id').notNull(),
    fromMonth: text('from_month').notNull(),
    userId: text('user_id').notNull(),
    requests: integer('requests').notNull(),
    inputTokens: integer('input_tokens').notNull(),
    outputTokens: integer('output_tokens').notNull(),
    cacheWrite5mTokens: integer('cache_write_5m_tokens').notNull(),
    cacheWrite1hTokens: integer('cache_write_1h_tokens').notNull(),
    cacheReadTokens: integer('cache_read_tokens').notNull(),
    costMicros: integer('cost_micros').notNull(),
    meteredMicros: integer('metered_micros').notNull(),
    windowPpm: integer('window_ppm').notNull().default(0),
  },
  (t) => [primaryKey({ columns: [t.statementId, t.fromMonth, t.userId] })],
);

/**
 * The billing rule a statement was closed with, per account: whether its usage was billed at API
 * price. Every account with usage in the month at close, and the bound account. Late usage of the
 * month is measured under these (an account not listed, as the bound one), never under today's
 * settings, so changing or deleting an account does not re-price a closed month. Immutable.
 */
export const statementAccounts = sqliteTable(
  'statement_accounts',
  {
    statementId: text('statement_id').notNull(),
    accountId: text('account_id').notNull(),
    meteredBilling: integer('metered_billing', { mode: 'boolean' }).notNull(),
  },
  (t) => [primaryKey({ columns: [t.statementId, t.accountId] })],
);

/** Corrections by the owner to an open month (signed micro-dollars, with a reason); frozen at close. */
export const billAdjustments = sqliteTable(
  'bill_adjustments',
  {
    id: text('id').primaryKey(),
    groupId: text('group_id').notNull(),
    month: text('month').notNull(),
    userId: text('user_id').notNull(),
    amountMicros: integer('amount_micros').notNull(),
    reason: text('reason').notNull(),
    createdBy: text('created_by').notNull(),
    createdAt: createdAt(),
  },
  (t) => [index('bill_adjustments_group_month_idx').on(t.groupId, t.month)],
);

/** Whether a person has settled their line of a statement: the one mutable part of a closed month. */
export const statementSettlements = sqliteTable(
  'statement_settlements',
  {
    statementId: text('statement_id').notNull(),
    userId: text('user_id').notNull(),
    settled: integer('settled', { mode: 'boolean' }).notNull(),
    updatedAt: integer('updated_at').notNull(),
    updatedBy: text('updated_by').notNull(),
  },
  (t) => [primaryKey({ columns: [t.statementId, t.userId] })],
);

/**
 * Invite links into a group. The token is stored only as a SHA-256 hash; the plaintext is shown
 * once. A member joins through one only while it is unrevoked, unexpired and has uses left.
 */
export const invites = sqliteTable(
  'invites',
  {
    id: text('id').primaryKey(),
    groupId: text('group_id')
      .notNull()
      .references(() => groups.id, { onDelete: 'cascade' }),
    tokenHash: text('token_hash').notNull().unique(),
    createdBy: text('created_by').references(() => users.id),
    expiresAt: integer('expires_at').notNull(),
    maxUses: integer('max_uses').notNull().default(1),
    uses: integer('uses').notNull().default(0),
    /** Only the person with this email (lower case) may accept; null: anyone with the link. */
    email: text('email'),
    revokedAt: integer('revoked_at'),
    createdAt: createdAt(),
  },
  (t) => [index('invites_group_idx').on(t.groupId)],
);

export const apiKeys = sqliteTable(
  'api_keys',
  {
    id: text('id').primaryKey(),
    /** SHA-256 of the full key, hex. The plaintext is shown once at creation and never stored. */
    keyHash: text('key_hash').notNull().unique(),
    /** The first characters of the key, enough for a person to recognise it. */
    prefix: text('prefix').notNull(),
    name: text('name').notNull().default(''),
    userId: text('user_id')
      .notNull()
      .references(() => users.id),
    groupId: text('group_id')
      .notNull()
      .references(() => groups.id),
    status: text('status', { enum: ['active', 'revoked'] })
      .notNull()
      .default('active'),
    /** A fixed deadline (ms since the epoch); null: none. */
    expiresAt: integer('expires_at'),
    /** Key rules (worker/auth/key-rules.ts): null means no restriction. Exact ids or `prefix*`. */
    allowedModels: text('allowed_models', { mode: 'json' }).$type<string[]>(),
    /** The client surfaces this key may call. */
    allowedServices: text('allowed_services', { mode: 'json' }).$type<KeyService[]>(),
    /** Client presets and User-Agent globs this key may be used from. */
    allowedClients: text('allowed_clients', { mode: 'json' }).$type<ClientRule[]>(),
    /** Activate on first use: the key is valid for this long from its first request. */
    activeForMs: integer('active_for_ms'),
    /** When the first request came (set once, by a conditional update); null: not used yet. */
    activatedAt: integer('activated_at'),
    maxConcurrency: integer('max_concurrency'),
    requestsPerWindow: integer('requests_per_window'),
    windowMinutes: integer('window_minutes'),
    createdAt: createdAt(),
    revokedAt: integer('revoked_at'),
  },
  (t) => [index('api_keys_group_idx').on(t.groupId), index('api_keys_user_idx').on(t.userId)],
);

/**
 * Personal access tokens: a person's credential for scripts and the API (`cpat_…`). Stored only
 * as a SHA-256 hash; the plaintext is shown once. Revocable, and expiring when the holder says so.
 */
export const personalAccessTokens = sqliteTable(
  'personal_access_tokens',
  {
    id: text('id').primaryKey(),
    userId: text('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    name: text('name').notNull(),
    tokenHash: text('token_hash').notNull().unique(),
    /** The first characters of the token, for a person to recognise it. */
    prefix: text('prefix').notNull(),
    createdAt: createdAt(),
    expiresAt: integer('expires_at'),
    lastUsedAt: integer('last_used_at'),
    revokedAt: integer('revoked_at'),
  },
  (t) => [index('personal_access_tokens_user_idx').on(t.userId)],
);

/**
 * Signed-in browsers. The cookie holds a random token; only its SHA-256 is kept. A session ends at
 * `expiresAt` (absolute), after SESSION_IDLE_TTL_MS without use (from `lastSeenAt`), or when revoked.
 */
export const sessions = sqliteTable(
  'sessions',
  {
    /** The public id, for listing and revoking one's sessions; not the credential. */
    id: text('id').primaryKey(),
    userId: text('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    tokenHash: text('token_hash').notNull().unique(),
    /** How the person signed in. */
    method: text('method', { enum: ['password', 'oidc', 'setup', 'invite', 'reset'] }).notNull(),
    createdAt: createdAt(),
    expiresAt: integer('expires_at').notNull(),
    /** Updated at most once a minute; the idle expiry counts from here. */
    lastSeenAt: integer('last_seen_at').notNull(),
    /** The browser's User-Agent, cut to a bound. */
    userAgent: text('user_agent'),
    ip: text('ip'),
    revokedAt: integer('revoked_at'),
  },
  (t) => [index('sessions_user_idx').on(t.userId)],
);

/**
 * Password links: a system admin gives one to a person who forgot their password (or never chose
 * one); it sets a new password once. The link's token is shown once and only its SHA-256 is kept;
 * a newer link for the same person voids the older ones.
 */
export const passwordResets = sqliteTable(
  'password_resets',
  {
    id: text('id').primaryKey(),
    userId: text('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    tokenHash: text('token_hash').notNull().unique(),
    createdBy: text('created_by').references(() => users.id),
    expiresAt: integer('expires_at').notNull(),
    usedAt: integer('used_at'),
    createdAt: createdAt(),
  },
  (t) => [index('password_resets_user_idx').on(t.userId)],
);

/**
 * Failed sign-in attempts per account (`account:<email>`) and per client address
 * (`address:<ip>`), in a fixed window from the first failure. One atomic upsert per attempt
 * (worker/auth/login-limits.ts).
 */
export const loginLimits = sqliteTable(
  'login_limits',
  {
    key: text('key').primaryKey(),
    windowStart: integer('window_start').notNull(),
    failures: integer('failures').notNull(),
  },
  (t) => [index('login_limits_window_idx').on(t.windowStart)],
);

/** A person's identity at an OIDC provider, linked to their user: (issuer, subject) is theirs. */
export const userIdentities = sqliteTable(
  'user_identities',
  {
    issuer: text('issuer').notNull(),
    subject: text('subject').notNull(),
    userId: text('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    /** The email the provider gave when the identity was linked. */
    email: text('email'),
    createdAt: createdAt(),
    lastSignInAt: integer('last_sign_in_at'),
  },
  (t) => [primaryKey({ columns: [t.issuer, t.subject] }), index('user_identities_user_idx').on(t.userId)],
);

/**
 * OIDC sign-ins in flight, between /auth/oidc/start and the callback: hashes of the state, the
 * nonce and the PKCE verifier (which stays in the browser's cookie, binding the flow to it).
 */
export const oidcLogins = sqliteTable(
  'oidc_logins',
  {
    stateHash: text('state_hash').primaryKey(),
    nonceHash: text('nonce_hash').notNull(),
    verifierHash: text('verifier_hash').notNull(),
    /** Where to send the browser once signed in: a path, or a URL on an allowed dashboard origin. */
    returnTo: text('return_to').notNull(),
    expiresAt: integer('expires_at').notNull(),
  },
  (t) => [index('oidc_logins_expires_idx').on(t.expiresAt)],
);

/**
 * Operator overrides of the shipped price table (worker/metering/prices.ts), by lower-case model
 * name; micro-dollars per million tokens.
 */
export const modelPrices = sqliteTable('model_prices', {
  model: text('model').primaryKey(),
  inputMicros: integer('input_micros').notNull(),
  outputMicros: integer('output_micros').notNull(),
  cacheWrite5mMicros: integer('cache_write_5m_micros').notNull(),
  cacheWrite1hMicros: integer('cache_write_1h_micros').notNull(),
  cacheReadMicros: integer('cache_read_micros').notNull(),
  /** Context tiers, ascending: other rates for a request whose prompt is longer than `aboveTokens`. */
  tiers: text('tiers', { mode: 'json' }).$type<PriceTier[]>().notNull().default(sql`'[]'`),
  updatedAt: integer('updated_at').notNull(),
});

/**
 * Spending limits. A budget limits one target — an enterprise, a department, a group, a member
 * within a group, or a key — over a period (a day, an ISO week, a month in its time zone, or in
 * total). Hard budgets refuse requests once reached; soft ones only alert. The counters that
 * enforce them live in the Durable Objects (durable-objects/group-gate.ts, enterprise-ledger.ts);
 * this table is their configuration.
 */
export const budgets = sqliteTable(
  'budgets',
  {
    id: text('id').primaryKey(),
    scope: text('scope', { enum: ['enterprise', 'department', 'group', 'member', 'key'] }).notNull(),
    /** The target: its id, or `<groupId>:<userId>` for a member. One budget per target and period. */
    scopeId: text('scope_id').notNull(),
    /** The enterprise the target belongs to (null for a carpool's group, member and key budgets). */
    enterpriseId: text('enterprise_id'),
    departmentId: text('department_id'),
    /** The group of a group, member or key budget. */
    groupId: text('group_id'),
    userId: text('user_id'),
    keyId: text('key_id'),
    period: text('period', { enum: ['day', 'week', 'month', 'total'] }).notNull(),
    limitMicros: integer('limit_micros').notNull(),
    mode: text('mode', { enum: ['hard', 'soft'] })
      .notNull()
      .default('hard'),
    /**
     * Who may loosen or remove it, from the permission its maker used: `enterprise` (an owner or
     * admin of the enterprise), `group` (whoever manages the group), `holder` (a key's holder
     * limited their own key; they or the group's managers). Whoever a budget limits cannot lift it.
     */
    authority: text('authority', { enum: ['enterprise', 'group', 'holder'] })
      .notNull()
      .default('group'),
    /** IANA time zone in which calendar periods turn. */
    timeZone: text('time_zone').notNull().default('UTC'),
    createdAt: createdAt(),
  },
  (t) => [
    uniqueIndex('budgets_scope_unique').on(t.scope, t.scopeId, t.period),
    index('budgets_enterprise_idx').on(t.enterpriseId),
    index('budgets_group_idx').on(t.groupId),
  ],
);

/**
 * One row per (hour, key, account, model). Member and group are functions of the key, kept as
 * columns so that per-member and per-group rollups are plain indexed GROUP BYs. Maintained by a
 * trigger on request_log (migrations/0002_*.sql): a request-log row inserted adds to its hour, a
 * row that already existed (a redelivered event) adds nothing.
 */
/** The counters every usage aggregate keeps (hourly, daily, monthly), summed over its bucket. */
const usageSums = () => ({
  keyId: text('key_id').notNull(),
  userId: text('user_id').notNull(),
  groupId: text('group_id').notNull(),
  accountId: text('account_id').notNull(),
  model: text('model').notNull(),
  requests: integer('requests').notNull().default(0),
  errors: integer('errors').notNull().default(0),
  inputTokens: integer('input_tokens').notNull().default(0),
  outputTokens: integer('output_tokens').notNull().default(0),
  cacheWrite5mTokens: integer('cache_write_5m_tokens').notNull().default(0),
  cacheWrite1hTokens: integer('cache_write_1h_tokens').notNull().default(0),
  cacheReadTokens: integer('cache_read_tokens').notNull().default(0),
  costMicros: integer('cost_micros').notNull().default(0),
  unpricedRequests: integer('unpriced_requests').notNull().default(0),
});

/**
 * Usage per UTC hour, key, account and model, kept by a trigger on `request_log` (so only rows
 * the pipeline actually inserted count). Daily and monthly rows are kept by the same trigger.
 */
export const usageHourly = sqliteTable(
  'usage_hourly',
  { hour: integer('hour').notNull(), ...usageSums() },
  (t) => [
    primaryKey({ columns: [t.hour, t.keyId, t.accountId, t.model] }),
    index('usage_hourly_group_idx').on(t.groupId, t.hour),
    index('usage_hourly_user_idx').on(t.userId, t.hour),
    index('usage_hourly_account_idx').on(t.accountId, t.hour),
    index('usage_hourly_key_idx').on(t.keyId, t.hour),
  ],
);

/** Usage per UTC day (`day` is the day's first millisecond): reports over weeks and months. */
export const usageDaily = sqliteTable(
  'usage_daily',
  { day: integer('day').notNull(), ...usageSums() },
  (t) => [
    primaryKey({ columns: [t.day, t.keyId, t.accountId, t.model] }),
    index('usage_daily_group_idx').on(t.groupId, t.day),
    index('usage_daily_user_idx').on(t.userId, t.day),
    index('usage_daily_account_idx').on(t.accountId, t.day),
    index('usage_daily_key_idx').on(t.keyId, t.day),
  ],
);

/** Usage per UTC calendar month (`month` is its first millisecond): reports over years. */
export const usageMonthly = sqliteTable(
  'usage_monthly',
  { month: integer('month').notNull(), ...usageSums() },
  (t) => [
    primaryKey({ columns: [t.month, t.keyId, t.accountId, t.model] }),
    index('usage_monthly_group_idx').on(t.groupId, t.month),
    index('usage_monthly_user_idx').on(t.userId, t.month),
    index('usage_monthly_account_idx').on(t.accountId, t.month),
    index('usage_monthly_key_idx').on(t.keyId, t.month),
  ],
);

/**
 * Each member's share of a subscription's plan window per UTC hour (ppm of the window, summed),
 * kept by a trigger on `request_log` like the usage aggregates (only inserted rows count, so a
 * redelivered event adds nothing). Rows exist only for requests with a share: bills split by
 * window share read this, never the request log.
 */
export const windowShareHourly = sqliteTable(
  'window_share_hourly',
  {
    hour: integer('hour').notNull(),
    groupId: text('group_id').notNull(),
    userId: text('user_id').notNull(),
    accountId: text('account_id').notNull(),
    windowPpm: integer('window_ppm').notNull().default(0),
  },
  (t) => [
    primaryKey({ columns: [t.hour, t.groupId, t.userId, t.accountId] }),
    index('window_share_hourly_group_idx').on(t.groupId, t.hour),
  ],
);

export const requestLog = sqliteTable(
  'request_log',
  {
    /** The relay's request id; the idempotency key of the usage pipeline. */
    requestId: text('request_id').primaryKey(),
    createdAt: integer('created_at').notNull(),
    keyId: text('key_id').notNull(),
    userId: text('user_id').notNull(),
    groupId: text('group_id').notNull(),
    /** '' (and `provider` '') on a refused request: no account was called. */
    accountId: text('account_id').notNull(),
    provider: text('provider').notNull(),
    surface: text('surface').notNull(),
    /** The model the client asked for, or the account's name for it when one was called. */
    model: text('model').notNull(),
    stream: integer('stream', { mode: 'boolean' }).notNull(),
    /** The HTTP status the client got. */
    status: integer('status').notNull(),
    /**
     * `complete`, `client_abort`, `upstream_error`, `failed`, or `refused`: answered with an error
     * before any upstream call; no tokens, no cost, and the aggregate triggers skip the row.
     */
    outcome: text('outcome').notNull(),
    upstreamRequestId: text('upstream_request_id'),
    inputTokens: integer('input_tokens').notNull(),
    outputTokens: integer('output_tokens').notNull(),
    cacheWrite5mTokens: integer('cache_write_5m_tokens').notNull(),
    cacheWrite1hTokens: integer('cache_write_1h_tokens').notNull(),
    cacheReadTokens: integer('cache_read_tokens').notNull(),
    costMicros: integer('cost_micros').notNull(),
    unpriced: integer('unpriced', { mode: 'boolean' }).notNull(),
    /** Output tokens estimated from what streamed: the upstream's own final count never came. */
    estimated: integer('estimated', { mode: 'boolean' }).notNull().default(false),
    ttfbMs: integer('ttfb_ms'),
    durationMs: integer('duration_ms').notNull(),
    /**
     * What went wrong: the upstream's error type, a relay error kind, or for a refusal the code the
     * client got (`budget_exhausted`, `key_rate_limit`, `model_not_found`…) or else its kind.
     */
    errorType: text('error_type'),
    /**
     * This request's share of its subscription's plan window (the longest window the account
     * reports), in parts per million of the window: how much the window's use rose with its
     * answer. Null when the answer reported no window.
     */
    windowPpm: integer('window_ppm'),
  },
  (t) => [
    index('request_log_group_idx').on(t.groupId, t.createdAt),
    index('request_log_key_idx').on(t.keyId, t.createdAt),
    index('request_log_user_idx').on(t.userId, t.createdAt),
    index('request_log_account_idx').on(t.accountId, t.createdAt),
    // The system admin's listing, and the retention trim (oldest first).
    index('request_log_created_idx').on(t.createdAt),
  ],
);

/**
 * The last reconciliation of a budget (worker/budgets/reconcile.ts): the enforcing counter's
 * settled spend against what D1 recorded for the same scope and period.
 */
export const budgetReconciliations = sqliteTable('budget_reconciliations', {
  budgetId: text('budget_id')
    .primaryKey()
    .references(() => budgets.id, { onDelete: 'cascade' }),
  periodKey: text('period_key').notNull(),
  checkedAt: integer('checked_at').notNull(),
  /** Settled spend at the gate (local budgets) or reported to the ledger (wide ones). */
  counterMicros: integer('counter_micros').notNull(),
  /** What the request log's aggregates recorded for the same scope and period. */
  recordedMicros: integer('recorded_micros').notNull(),
  /** recorded − counter. */
  driftMicros: integer('drift_micros').notNull(),
  /** Nonzero on this check and on the one before it in the same period: not queue lag. */
  flagged: integer('flagged', { mode: 'boolean' }).notNull(),
});
export type BudgetReconciliation = typeof budgetReconciliations.$inferSelect;

/**
 * When the reconciliation last took each budget, checked or skipped (a gate that has not learned
 * it): the next runs take the budgets taken longest ago, so skipped ones cannot keep their places.
 */
export const budgetTurns = sqliteTable('budget_turns', {
  budgetId: text('budget_id')
    .primaryKey()
    .references(() => budgets.id, { onDelete: 'cascade' }),
  takenAt: integer('taken_at').notNull(),
});

/**
 * Every change, by whom, to what, from where. `actor` is `operator` (the ADMIN_TOKEN) or
 * `user:<id>`; the enterprise and group a change belongs to decide who may read it.
 */
export const auditLog = sqliteTable(
  'audit_log',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    at: integer('at').notNull(),
    actor: text('actor').notNull(),
    /** The acting user, when a person acted. */
    actorId: text('actor_id'),
    action: text('action').notNull(),
    targetType: text('target_type').notNull(),
    targetId: text('target_id').notNull(),
    enterpriseId: text('enterprise_id'),
    groupId: text('group_id'),
    /** What the change did, without secrets: the fields before and after, or what was created. */
    detail: text('detail', { mode: 'json' }).$type<Record<string, unknown>>(),
    ip: text('ip'),
  },
  (t) => [
    index('audit_log_target_idx').on(t.targetType, t.targetId),
    index('audit_log_enterprise_idx').on(t.enterpriseId, t.at),
    index('audit_log_group_idx').on(t.groupId, t.at),
    // A system admin's unscoped read, newest first by (at, id): id is the rowid every index ends
    // with, so this one index serves that order and the cursor's seek on `at`.
    index('audit_log_at_idx').on(t.at),
  ],
);

/**
 * Where alerts are sent: a webhook in the scope of an enterprise, a group, or (both null) the whole
 * system. The URL (a Slack or DingTalk URL is itself a credential) and the signing secrets are
 * AES-GCM sealed like account credentials; only a hint of the URL is ever shown.
 */
export const alertEndpoints = sqliteTable(
  'alert_endpoints',
  {
    id: text('id').primaryKey(),
    enterpriseId: text('enterprise_id').references(() => enterprises.id, { onDelete: 'cascade' }),
    groupId: text('group_id').references(() => groups.id, { onDelete: 'cascade' }),
    name: text('name').notNull(),
    format: text('format', { enum: ['json', 'slack', 'discord', 'feishu', 'dingtalk', 'wecom'] }).notNull(),
    urlEnc: text('url_enc').notNull(),
    /** The URL's origin and the start of its path, enough to recognise it. */
    urlHint: text('url_hint').notNull(),
    /** Our HMAC-SHA256 signing secret (`whsec_…`), sealed; shown once at creation or rotation. */
    secretEnc: text('secret_enc').notNull(),
    /** Feishu/Lark or DingTalk's own "signing secret" of the bot, sealed; null: not signed their way. */
    vendorSecretEnc: text('vendor_secret_enc'),
    enabled: integer('enabled', { mode: 'boolean' }).notNull().default(true),
    createdAt: createdAt(),
    updatedAt: integer('updated_at').notNull().default(0),
  },
  (t) => [
    index('alert_endpoints_enterprise_idx').on(t.enterpriseId),
    index('alert_endpoints_group_idx').on(t.groupId),
    check('alert_endpoints_one_scope', sql`${t.enterpriseId} IS NULL OR ${t.groupId} IS NULL`),
  ],
);

/**
 * What to alert on, in a scope (enterprise, group, or the system when both are null): a kind, an
 * optional subject (one budget or account; null: every one in the scope) and the kind's params.
 */
export const alertRules = sqliteTable(
  'alert_rules',
  {
    id: text('id').primaryKey(),
    enterpriseId: text('enterprise_id').references(() => enterprises.id, { onDelete: 'cascade' }),
    groupId: text('group_id').references(() => groups.id, { onDelete: 'cascade' }),
    name: text('name').notNull(),
    kind: text('kind', { enum: ['budget.threshold', 'account.disabled', 'account.cooldowns'] }).notNull(),
    subjectId: text('subject_id'),
    params: text('params', { mode: 'json' }).$type<AlertRuleParams>().notNull(),
    enabled: integer('enabled', { mode: 'boolean' }).notNull().default(true),
    createdAt: createdAt(),
    updatedAt: integer('updated_at').notNull().default(0),
  },
  (t) => [
    index('alert_rules_kind_idx').on(t.kind, t.enterpriseId, t.groupId),
    check('alert_rules_one_scope', sql`${t.enterpriseId} IS NULL OR ${t.groupId} IS NULL`),
  ],
);

/** The endpoints a rule sends to. */
export const alertRuleEndpoints = sqliteTable(
  'alert_rule_endpoints',
  {
    ruleId: text('rule_id')
      .notNull()
      .references(() => alertRules.id, { onDelete: 'cascade' }),
    endpointId: text('endpoint_id')
      .notNull()
      .references(() => alertEndpoints.id, { onDelete: 'cascade' }),
  },
  (t) => [
    primaryKey({ columns: [t.ruleId, t.endpointId] }),
    index('alert_rule_endpoints_endpoint_idx').on(t.endpointId),
  ],
);

/** A rule muted until a time, for one subject or (null) all of them. */
export const alertSilences = sqliteTable(
  'alert_silences',
  {
    id: text('id').primaryKey(),
    ruleId: text('rule_id')
      .notNull()
      .references(() => alertRules.id, { onDelete: 'cascade' }),
    subjectId: text('subject_id'),
    endsAt: integer('ends_at').notNull(),
    comment: text('comment').notNull().default(''),
    createdBy: text('created_by'),
    createdAt: createdAt(),
  },
  (t) => [index('alert_silences_rule_idx').on(t.ruleId, t.endsAt)],
);

/**
 * Each time a rule fired, once per (rule, subject, period, threshold): the unique index is what
 * makes it fire once, whoever calls at the same moment. Alerts that last until resolved use the
 * period `open`, which resolution rewrites (freeing the slot for the next time).
 */
export const alertFirings = sqliteTable(
  'alert_firings',
  {
    id: text('id').primaryKey(),
    ruleId: text('rule_id')
      .notNull()
      .references(() => alertRules.id, { onDelete: 'cascade' }),
    subjectId: text('subject_id').notNull(),
    period: text('period').notNull(),
    threshold: integer('threshold').notNull().default(0),
    status: text('status', { enum: ['firing', 'resolved'] })
      .notNull()
      .default('firing'),
    /** A silence covered it: recorded, not delivered. */
    silenced: integer('silenced', { mode: 'boolean' }).notNull().default(false),
    event: text('event', { mode: 'json' }).$type<AlertEvent>().notNull(),
    firedAt: integer('fired_at').notNull(),
    resolvedAt: integer('resolved_at'),
  },
  (t) => [
    uniqueIndex('alert_firings_once').on(t.ruleId, t.subjectId, t.period, t.threshold),
    index('alert_firings_rule_idx').on(t.ruleId, t.firedAt),
  ],
);

/** The delivery log: one row per event per endpoint, updated by every attempt. */
export const alertDeliveries = sqliteTable(
  'alert_deliveries',
  {
    id: text('id').primaryKey(),
    endpointId: text('endpoint_id')
      .notNull()
      .references(() => alertEndpoints.id, { onDelete: 'cascade' }),
    firingId: text('firing_id').references(() => alertFirings.id, { onDelete: 'set null' }),
    event: text('event').notNull(),
    payload: text('payload', { mode: 'json' }).$type<AlertEvent>().notNull(),
    status: text('status', { enum: ['pending', 'delivered', 'failed'] })
      .notNull()
      .default('pending'),
    attempts: integer('attempts').notNull().default(0),
    maxAttempts: integer('max_attempts').notNull(),
    lastStatus: integer('last_status'),
    lastError: text('last_error'),
    /** When the next attempt is due; null once delivered or failed. */
    nextAttemptAt: integer('next_attempt_at'),
    /** An attempt in flight holds the delivery until then (so a redelivered message cannot send it twice). */
    claimedUntil: integer('claimed_until'),
    deliveredAt: integer('delivered_at'),
    createdAt: createdAt(),
  },
  (t) => [
    index('alert_deliveries_endpoint_idx').on(t.endpointId, t.createdAt),
    index('alert_deliveries_due_idx').on(t.status, t.nextAttemptAt),
  ],
);

export type Account = typeof accounts.$inferSelect;
export type Group = typeof groups.$inferSelect;
export type GroupMember = typeof groupMembers.$inferSelect;
export type Invite = typeof invites.$inferSelect;
export type ApiKey = typeof apiKeys.$inferSelect;
export type User = typeof users.$inferSelect;
export type Enterprise = typeof enterprises.$inferSelect;
export type RequestLogRow = typeof requestLog.$inferInsert;
export type PersonalAccessToken = typeof personalAccessTokens.$inferSelect;
export type Budget = typeof budgets.$inferSelect;
export type AlertEndpoint = typeof alertEndpoints.$inferSelect;
export type AlertRule = typeof alertRules.$inferSelect;
export type AlertSilence = typeof alertSilences.$inferSelect;
export type AlertFiring = typeof alertFirings.$inferSelect;
export type AlertDelivery = typeof alertDeliveries.$inferSelect;
export type Session = typeof sessions.$inferSelect;
export type Statement = typeof statements.$inferSelect;
export type StatementLine = typeof statementLines.$inferSelect;
export type LateUsage = typeof statementLateUsage.$inferSelect;
export type BillAdjustment = typeof billAdjustments.$inferSelect;
