// Requests waiting in an account's queue when something changes under them: their key revoked
// (or its holder removed from the group), their account disabled or deleted. Each is refused at
// once with the answer a new request would get, and no lease is left behind. And what every
// refusal says of the accounts: their place and kind, never their names or an operator's reason.
import { describe, expect, it } from 'vitest';
import { accountStub, groupStub } from './support/gates';
import {
  admin,
  type Carpool,
  type Enterprise,
  eventually,
  fakeLog,
  leasesInUse,
  seedCarpool,
  seedEnterprise,
  streamMessage,
} from './support/relay';

interface Answer {
  status: number;
  at: number;
  text: string;
  retryAfter: string | null;
}

/** A streamed request read to its end, with when it ended. */
async function ask(key: string): Promise<Answer> {
  const res = await streamMessage(key);
  const text = await res.text();
  return { status: res.status, at: Date.now(), text, retryAfter: res.headers.get('retry-after') };
}

function errorOf(answer: Answer): { type: string; message: string } {
  return (JSON.parse(answer.text) as { error: { type: string; message: string } }).error;
}

async function queued(accountIds: string[]): Promise<number> {
  let n = 0;
  for (const id of accountIds) n += (await accountStub(id).state()).queued;
  return n;
}

async function waitQueued(accountIds: string[], n: number): Promise<void> {
  await eventually(async () => ((await queued(accountIds)) === n ? true : undefined));
}

/** After every scenario: no lease held at any account or at the group's gate, nobody queued. */
async function nothingLeft(groupId: string, accountIds: string[]): Promise<void> {
  for (const id of accountIds)
    await eventually(async () => ((await leasesInUse(id)) === 0 ? true : undefined));
  expect(await queued(accountIds)).toBe(0);
  await eventually(async () => ((await groupStub(groupId).state()).leasesInUse === 0 ? true : undefined));
}

/** A second key in the same group, held by the same person. */
async function anotherKey(group: Carpool | Enterprise): Promise<{ id: string; key: string }> {
  const made = await admin<{ id: string; key: string }>('POST', '/keys', {
    groupId: group.groupId,
    userId: group.userId,
  });
  expect(made.status).toBe(201);
  return made.json;
}

function expectRevoked(answer: Answer): void {
  expect(answer.status).toBe(403);
  expect(errorOf(answer)).toMatchObject({
    type: 'permission_error',
    message: 'This API key has been revoked.',
  });
}

describe('a key revoked while its requests wait in a queue', () => {
  it('enterprise pool: the queued requests are refused at once as revoked, not served later', async () => {
    const pool = await seedEnterprise([
      { scenario: 'slow.300.10', maxConcurrency: 1 },
      { scenario: 'slow.300.10', maxConcurrency: 1 },
    ]);
    const ids = pool.accounts.map((a) => a.id);
    const filler = await anotherKey(pool);
    const fillers = [ask(filler.key), ask(filler.key)];
    await eventually(async () => {
      let inUse = 0;
      for (const id of ids) inUse += await leasesInUse(id);
      return inUse === 2 ? true : undefined;
    });
    const waiting = Array.from({ length: 4 }, () => ask(pool.key));
    await waitQueued(ids, 4);
    const revokedAt = Date.now();
    expect((await admin('POST', `/keys/${pool.keyId}/revoke`)).status).toBe(200);
    const answers = await Promise.all(waiting);
    for (const answer of answers) {
      expectRevoked(answer);
      expect(answer.at - revokedAt).toBeLessThan(1500);
    }
    expect((await Promise.all(fillers)).map((a) => a.status)).toEqual([200, 200]);
    const served = (await Promise.all(pool.accounts.map((a) => fakeLog(a.tag)))).flat();
    expect(served.length).toBe(2);
    await nothingLeft(pool.groupId, ids);
  });

  it('carpool: the queued requests are refused at once as revoked, not served later', async () => {
    const carpool = await seedCarpool({ scenario: 'slow.300.10', maxConcurrency: 2 });
    const filler = await anotherKey(carpool);
    const fillers = [ask(filler.key), ask(filler.key)];
    await eventually(async () => ((await leasesInUse(carpool.accountId)) === 2 ? true : undefined));
    const waiting = Array.from({ length: 3 }, () => ask(carpool.key));
    await waitQueued([carpool.accountId], 3);
    const revokedAt = Date.now();
    expect((await admin('POST', `/keys/${carpool.keyId}/revoke`)).status).toBe(200);
    const answers = await Promise.all(waiting);
    for (const answer of answers) {
      expectRevoked(answer);
      expect(answer.at - revokedAt).toBeLessThan(1500);
    }
    expect((await Promise.all(fillers)).map((a) => a.status)).toEqual([200, 200]);
    expect((await fakeLog(carpool.tag)).length).toBe(2);
    await nothingLeft(carpool.groupId, [carpool.accountId]);
  });

  it('carpool: a member removed from the group meanwhile has their queued requests refused as revoked', async () => {
    const carpool = await seedCarpool({ scenario: 'slow.300.10', maxConcurrency: 1 });
    const member = await admin<{ id: string }>('POST', '/users', {
      email: `${crypto.randomUUID().slice(0, 12)}@example.com`,
      name: 'Leaving',
    });
    expect(
      (await admin('POST', `/groups/${carpool.groupId}/members`, { userId: member.json.id, role: 'member' }))
        .status,
    ).toBe(201);
    const theirs = await admin<{ key: string }>('POST', '/keys', {
      groupId: carpool.groupId,
      userId: member.json.id,
    });
    const filler = ask(carpool.key);
    await eventually(async () => ((await leasesInUse(carpool.accountId)) === 1 ? true : undefined));
    const waiting = [ask(theirs.json.key), ask(theirs.json.key)];
    await waitQueued([carpool.accountId], 2);
    const removedAt = Date.now();
    expect((await admin('DELETE', `/groups/${carpool.groupId}/members/${member.json.id}`)).status).toBe(200);
    for (const answer of await Promise.all(waiting)) {
      expectRevoked(answer);
      expect(answer.at - removedAt).toBeLessThan(1500);
    }
    expect((await filler).status).toBe(200);
    expect((await fakeLog(carpool.tag)).length).toBe(1);
    await nothingLeft(carpool.groupId, [carpool.accountId]);
  });
});

describe('an account disabled or deleted while requests wait in its queue', () => {
  async function queuedBehindThree(): Promise<{
    carpool: Carpool;
    inFlight: Promise<Answer>[];
    waiting: Promise<Answer>[];
  }> {
    const carpool = await seedCarpool({ scenario: 'slow.300.10', maxConcurrency: 3 });
    const inFlight = Array.from({ length: 3 }, () => ask(carpool.key));
    await eventually(async () => ((await leasesInUse(carpool.accountId)) === 3 ? true : undefined));
    const waiting = Array.from({ length: 2 }, () => ask(carpool.key));
    await waitQueued([carpool.accountId], 2);
    return { carpool, inFlight, waiting };
  }

  function expectUnavailable(answer: Answer, since: number): void {
    expect(answer.status).toBe(503);
    expect(answer.at - since).toBeLessThan(1500);
    const { type, message } = errorOf(answer);
    expect(type).toBe('api_error');
    expect(message).toContain('account 1 (anthropic): disabled while this request waited');
    expect(message).not.toMatch(/after waiting|at \d+\/\d+/);
    expect(Number(answer.retryAfter)).toBeGreaterThan(1);
  }

  it('deleted (unbound from its carpool): the queued requests get 503 at once, saying so', async () => {
    const { carpool, inFlight, waiting } = await queuedBehindThree();
    const deletedAt = Date.now();
    expect((await admin('DELETE', `/groups/${carpool.groupId}/account`)).status).toBe(200);
    for (const answer of await Promise.all(waiting)) expectUnavailable(answer, deletedAt);
    await Promise.all(inFlight);
    expect((await fakeLog(carpool.tag)).length).toBe(3);
    await nothingLeft(carpool.groupId, [carpool.accountId]);
  });

  it('disabled by an operator: the queued requests get 503 at once, without the operator’s reason', async () => {
    const { carpool, inFlight, waiting } = await queuedBehindThree();
    const disabledAt = Date.now();
    const disabled = await admin('POST', `/accounts/${carpool.accountId}/disable`, {
      reason: 'card ending 4242 declined',
    });
    expect(disabled.status).toBe(200);
    for (const answer of await Promise.all(waiting)) {
      expectUnavailable(answer, disabledAt);
      expect(answer.text).not.toContain('4242');
    }
    await Promise.all(inFlight);
    await nothingLeft(carpool.groupId, [carpool.accountId]);
  });
});

describe('what a refusal says of the accounts', () => {
  it('names them by place and kind, never by name or with the operator’s disable reason', async () => {
    const pool = await seedEnterprise([{}, {}, {}]);
    for (const a of pool.accounts)
      await admin('POST', `/accounts/${a.id}/disable`, { reason: 'card ending 4242 declined' });
    const answer = await ask(pool.key);
    expect(answer.status).toBe(503);
    const { message } = errorOf(answer);
    expect(message).toBe(
      'No upstream account can serve this request: account 1 (anthropic): disabled; ' +
        'account 2 (anthropic): disabled; account 3 (anthropic): disabled.',
    );
    await nothingLeft(
      pool.groupId,
      pool.accounts.map((a) => a.id),
    );
  });

  it('an account at capacity: its place and kind, not its name', async () => {
    const pool = await seedEnterprise([{ scenario: 'slow.200.5', maxConcurrency: 1 }], {
      pools: { anthropic: { queueWaitMs: 200 } },
    });
    const filler = ask(pool.key);
    await eventually(async () => ((await leasesInUse(pool.accounts[0]!.id)) === 1 ? true : undefined));
    const answer = await ask(pool.key);
    expect(answer.status).toBe(429);
    const { message } = errorOf(answer);
    expect(message).toBe(
      'No upstream account can serve this request: account 1 (anthropic): still at 1/1 concurrent requests after waiting 200 ms.',
    );
    expect((await filler).status).toBe(200);
    await nothingLeft(pool.groupId, [pool.accounts[0]!.id]);
  });
});
