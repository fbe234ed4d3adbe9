// Migrations that rewrite a table, applied the way production gets them: onto a D1 that already
// holds rows. The setup file migrates an empty database, which proves the SQL parses but not that
// a step keeps what is there; this file migrates an empty D1 of its own (MIGRATION_DB) up to the
// step before, writes rows as the relay would have, and then applies the step.
import { applyD1Migrations, env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';

declare global {
  namespace Cloudflare {
    interface Env {
      MIGRATION_DB: D1Database;
    }
  }
}

const db = () => env.MIGRATION_DB;

/** Applies the project's migrations numbered below `before` (all when left out). */
async function migrate(before = Number.POSITIVE_INFINITY): Promise<void> {
  await applyD1Migrations(
    db(),
    env.TEST_MIGRATIONS.filter((m) => Number(m.name.slice(0, 4)) < before),
  );
}

async function names(type: 'index' | 'trigger', table: string): Promise<string[]> {
  const { results } = await db()
    .prepare('SELECT name FROM sqlite_master WHERE type = ? AND tbl_name = ? ORDER BY name')
    .bind(type, table)
    .all<{ name: string }>();
  return results.map((r) => r.name);
}

describe('0026: the old key budget columns go', () => {
  it('keeps every key, its indexes, foreign keys and trigger', async () => {
    await migrate(26);
    await db().batch([
      db().prepare("INSERT INTO users (id, email, name) VALUES ('u1', 'ann@example.test', 'Ann')"),
      db().prepare("INSERT INTO groups (id, name, kind) VALUES ('g1', 'Crew', 'carpool')"),
      db().prepare("INSERT INTO group_members (group_id, user_id, role) VALUES ('g1', 'u1', 'owner')"),
      db().prepare(
        `INSERT INTO api_keys (id, key_hash, prefix, name, user_id, group_id, allowed_models,
           max_concurrency, daily_budget_micros, monthly_budget_micros, created_at)
         VALUES ('k1', 'hash1', 'cp-abc', 'laptop', 'u1', 'g1', '["claude-*"]', 2, 1000, 30000, 1700000000000)`,
      ),
    ]);
    const indexes = await names('index', 'api_keys');
    const triggers = await names('trigger', 'api_keys');
    const foreignKeys = (await db().prepare('PRAGMA foreign_key_list(api_keys)').all()).results;
    expect(indexes).toContain('api_keys_group_idx');
    expect(triggers).toEqual(['api_keys_owner_is_member']);

    await migrate();

    const columns = (await db().prepare('PRAGMA table_info(api_keys)').all<{ name: string }>()).results.map(
      (c) => c.name,
    );
    expect(columns).not.toContain('daily_budget_micros');
    expect(columns).not.toContain('monthly_budget_micros');
    expect(await db().prepare('SELECT * FROM api_keys').all()).toMatchObject({
      results: [
        {
          id: 'k1',
          key_hash: 'hash1',
          prefix: 'cp-abc',
          name: 'laptop',
          user_id: 'u1',
          group_id: 'g1',
          status: 'active',
          allowed_models: '["claude-*"]',
          max_concurrency: 2,
          created_at: 1700000000000,
        },
      ],
    });
    expect(await names('index', 'api_keys')).toEqual(indexes);
    expect(await names('trigger', 'api_keys')).toEqual(triggers);
    expect((await db().prepare('PRAGMA foreign_key_list(api_keys)').all()).results).toEqual(foreignKeys);
    // Still enforced, not merely listed: a key for someone outside the group, a duplicate hash,
    // a key moved to a group that does not exist.
    const key = (id: string, hash: string, user: string, group: string) =>
      db()
        .prepare("INSERT INTO api_keys (id, key_hash, prefix, user_id, group_id) VALUES (?, ?, 'cp-x', ?, ?)")
        .bind(id, hash, user, group)
        .run();
    await db().prepare("INSERT INTO users (id, email, name) VALUES ('u2', 'bob@example.test', 'Bob')").run();
    await expect(key('k2', 'hash2', 'u2', 'g1')).rejects.toThrow(/key_owner_not_member/);
    await expect(key('k3', 'hash1', 'u1', 'g1')).rejects.toThrow(/UNIQUE/);
    await expect(
      db().prepare("UPDATE api_keys SET group_id = 'nowhere' WHERE id = 'k1'").run(),
    ).rejects.toThrow(/FOREIGN KEY/);
    expect((await db().prepare('PRAGMA foreign_key_check').all()).results).toEqual([]);
  });
});
