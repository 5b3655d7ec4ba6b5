import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signUserToken } from '../../src/auth/tokens.ts';
import { asKey, createTestKey, twoInstances } from '../helpers/api-keys.ts';
import { testDatabases } from '../helpers/databases.ts';
import { codeOf, createTestOrg, type TestOrg, unique } from '../helpers/fixtures.ts';
import {
  type Subscription,
  sseSubscribe,
  USAGE_ALERT,
  USAGE_UPDATED,
  usedIn,
  type WsSession,
  wsSession,
} from '../helpers/live.ts';
import {
  type GraphQLResponse,
  PLATFORM_ADMIN,
  startTestServer,
  TEST_JWT_SECRET,
  type TestServer,
} from '../helpers/server.ts';
import { CHECK_QUOTA, RECORD_USAGE } from '../helpers/usage.ts';

const WHO_AM_I = '{ viewer { apiKey { id } } }';
const REVOKE = 'mutation ($id: ID!) { revokeApiKey(input: { id: $id }) { apiKey { id } } }';
const ROTATE = 'mutation ($id: ID!) { rotateApiKey(input: { id: $id }) { secret } }';
const ADD_MEMBER = 'mutation ($input: AddMemberInput!) { addMember(input: $input) { membership { role } } }';
const CREATE_ORG = 'mutation ($input: CreateOrgInput!) { createOrg(input: $input) { org { id } } }';

const calls = (org: TestOrg, quantity = 1) => ({
  id: randomUUID(),
  orgId: org.id,
  metric: 'api_calls',
  quantity,
});
const recordOn = (ws: WsSession, org: TestOrg) =>
  ws.run<{ recordUsage: { accepted: number } }>(RECORD_USAGE, { input: { events: [calls(org)] } });
const consumeOn = (ws: WsSession, org: TestOrg) =>
  ws.run<{ checkQuota: { consumed: boolean } }>(CHECK_QUOTA, {
    input: { orgId: org.id, metric: 'api_calls', quantity: 1, consume: true, idempotencyKey: randomUUID() },
  });

/** The subscription's last result is an error with `code`, and then the stream ended. */
async function expectEndedWith(sub: Subscription<unknown>, code: string, timeoutMs = 3_000) {
  const refused = await sub.until((r) => codeOf(r) === code, timeoutMs);
  expect(refused.errors![0]!.message.length).toBeGreaterThan(10);
  const deadline = Date.now() + 2_000;
  while (sub.ended() === undefined && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  expect(sub.ended()).toBe('complete');
}

const sleepUntil = (at: number) => new Promise((r) => setTimeout(r, Math.max(0, at - Date.now())));

describe.each(testDatabases())('credentials on open sockets and streams on %s', (kind) => {
  let server: TestServer;
  const open: { close(): Promise<void> }[] = [];
  const track = <T extends { close(): Promise<void> }>(s: T) => {
    open.push(s);
    return s;
  };
  beforeAll(async () => {
    server = await startTestServer(kind);
  });
  afterAll(async () => {
    await Promise.all(open.map((s) => s.close()));
    await server?.close();
  });

  for (const change of ['revoked', 'rotated'] as const) {
    it(`a ${change} key is refused on its open socket, and its subscriptions end (WebSocket and SSE)`, async () => {
      const org = await createTestOrg(server, 'pro');
      const key = await createTestKey(server, org, { scopes: ['USAGE_WRITE', 'USAGE_READ'] });
      const ws = track(wsSession(server.url, key.secret));
      const usage = track(ws.subscribe(USAGE_UPDATED, { orgId: org.id }));
      const alerts = track(ws.subscribe(USAGE_ALERT, { orgId: org.id }));
      const sse = track(sseSubscribe(server.url, USAGE_UPDATED, { orgId: org.id }, key.secret));
      expect(usedIn(await usage.until((r) => usedIn(r) !== undefined))).toBe(0);
      expect(usedIn(await sse.until((r) => usedIn(r) !== undefined))).toBe(0);
      expect((await recordOn(ws, org)).data?.recordUsage.accepted).toBe(1);
      expect((await consumeOn(ws, org)).data?.checkQuota.consumed).toBe(true);

      const res = await server.gql(change === 'revoked' ? REVOKE : ROTATE, { id: key.id }, org.ownerToken);
      expect(res.errors).toBeUndefined();

      for (const refused of [await recordOn(ws, org), await consumeOn(ws, org), await ws.run(WHO_AM_I)]) {
        expect(codeOf(refused)).toBe('UNAUTHENTICATED');
        expect(refused.data ?? null).toBeNull();
      }
      await expectEndedWith(usage, 'UNAUTHENTICATED');
      await expectEndedWith(alerts, 'UNAUTHENTICATED');
      await expectEndedWith(sse, 'UNAUTHENTICATED');
      // Nothing the refused operations sent was counted.
      const after = await server.gql<{
        org: { usage: { metrics: { metric: { key: string }; used: number }[] } };
      }>(
        'query ($id: ID!) { org(id: $id) { usage { metrics { metric { key } used } } } }',
        { id: org.id },
        org.ownerToken,
      );
      expect(after.data?.org.usage.metrics.find((m) => m.metric.key === 'api_calls')?.used).toBe(2);
      expect(ws.closedWith()).toBeUndefined();
    });
  }

  it('an expired JWT is refused on its open socket, and its subscriptions end at exp', async () => {
    const org = await createTestOrg(server, 'pro');
    const shortAdmin = await signUserToken(TEST_JWT_SECRET, PLATFORM_ADMIN, '3s');
    const shortOwner = await signUserToken(TEST_JWT_SECRET, org.ownerId, '3s');
    const expiresAt = JSON.parse(Buffer.from(shortOwner.split('.')[1]!, 'base64url').toString()).exp * 1000;
    const admin = track(wsSession(server.url, shortAdmin));
    const owner = track(wsSession(server.url, shortOwner));
    const usage = track(owner.subscribe(USAGE_UPDATED, { orgId: org.id }));
    const sse = track(sseSubscribe(server.url, USAGE_UPDATED, { orgId: org.id }, shortOwner));
    const createOrg = () =>
      admin.run(CREATE_ORG, {
        input: { name: 'Short', slug: unique('short'), planCode: 'free', ownerUserId: unique('o') },
      });
    expect((await createOrg()).errors).toBeUndefined();
    await usage.until((r) => usedIn(r) !== undefined);
    await sse.until((r) => usedIn(r) !== undefined);

    await sleepUntil(expiresAt + 50);
    const refused = await createOrg();
    expect(codeOf(refused)).toBe('UNAUTHENTICATED');
    expect(refused.errors![0]!.message).toMatch(/expired/);
    await expectEndedWith(usage, 'UNAUTHENTICATED', 1_000);
    await expectEndedWith(sse, 'UNAUTHENTICATED', 1_000);
    expect(admin.closedWith()).toBeUndefined();
  });

  it('a member removed from the org is refused, and their subscriptions end', async () => {
    const org = await createTestOrg(server, 'pro');
    const memberId = unique('member');
    expect(
      (
        await server.gql(
          ADD_MEMBER,
          { input: { orgId: org.id, userId: memberId, role: 'MEMBER' } },
          org.ownerToken,
        )
      ).errors,
    ).toBeUndefined();
    const token = await server.token(memberId);
    const ws = track(wsSession(server.url, token));
    const usage = track(ws.subscribe(USAGE_UPDATED, { orgId: org.id }));
    const sse = track(sseSubscribe(server.url, USAGE_UPDATED, { orgId: org.id }, token));
    await usage.until((r) => usedIn(r) !== undefined);
    await sse.until((r) => usedIn(r) !== undefined);

    // A change that leaves the member in the org ends nothing.
    expect(
      (
        await server.gql(
          ADD_MEMBER,
          { input: { orgId: org.id, userId: memberId, role: 'VIEWER' } },
          org.ownerToken,
        )
      ).errors,
    ).toBeUndefined();
    await new Promise((r) => setTimeout(r, 300));
    expect(usage.ended()).toBeUndefined();
    expect(sse.ended()).toBeUndefined();

    // removeMember ends the removed member's streams at once.
    const removed = await server.gql(
      'mutation ($input: RemoveMemberInput!) { removeMember(input: $input) { membership { role } } }',
      { input: { orgId: org.id, userId: memberId } },
      org.ownerToken,
    );
    expect(removed.errors).toBeUndefined();
    await expectEndedWith(usage, 'NOT_FOUND');
    await expectEndedWith(sse, 'NOT_FOUND');
    const read = await ws.run<{ org: { id: string } | null }>('query ($id: ID!) { org(id: $id) { id } }', {
      id: org.id,
    });
    expect(read.data?.org ?? null).toBeNull();
    expect(ws.closedWith()).toBeUndefined();
  });

  it("counts a socket's operations against the org's rate: a free key's 61st in a minute is RATE_LIMITED", async () => {
    const org = await createTestOrg(server, 'free');
    const key = await createTestKey(server, org);
    const ws = track(wsSession(server.url, key.secret));
    const results = await Promise.all(Array.from({ length: 60 }, () => ws.run(WHO_AM_I)));
    expect(results.filter((r) => r.errors === undefined)).toHaveLength(60);
    const refused = await ws.run(WHO_AM_I);
    expect(codeOf(refused)).toBe('RATE_LIMITED');
    expect(refused.errors![0]!.extensions?.limit).toBe(60);
    expect(Number(refused.errors![0]!.extensions?.retryAfter)).toBeGreaterThanOrEqual(1);
    // The same count as over HTTP.
    expect((await asKey(server.url, key.secret)).status).toBe(429);
    expect(ws.closedWith()).toBeUndefined();
  });

  it("shares the plan's rate among all of an org's keys, over HTTP and sockets", async () => {
    const org = await createTestOrg(server, 'free');
    const first = await createTestKey(server, org);
    const second = await createTestKey(server, org);
    const ws = track(wsSession(server.url, first.secret));
    const onSocket = await Promise.all(Array.from({ length: 30 }, () => ws.run(WHO_AM_I)));
    expect(onSocket.every((r) => r.errors === undefined)).toBe(true);
    const http = await asKey(server.url, second.secret);
    expect(http.status).toBe(200);
    expect(http.headers.get('x-ratelimit-limit')).toBe('60');
    expect(http.headers.get('x-ratelimit-remaining')).toBe('29');
    const rest = await Promise.all(Array.from({ length: 29 }, () => asKey(server.url, second.secret)));
    expect(rest.every((r) => r.status === 200)).toBe(true);
    expect(codeOf(await ws.run(WHO_AM_I))).toBe('RATE_LIMITED');
    const past = await asKey(server.url, second.secret);
    expect(past.status).toBe(429);
    expect(codeOf(past)).toBe('RATE_LIMITED');
    // Another org's keys keep their own minute.
    const other = await createTestOrg(server, 'free');
    expect((await asKey(server.url, (await createTestKey(server, other)).secret)).status).toBe(200);
  });

  it('refuses a document over the armor limits on a socket with BAD_USER_INPUT, keeps it open, prints nothing', async () => {
    const org = await createTestOrg(server, 'pro');
    const ws = track(wsSession(server.url, org.ownerToken));
    expect((await ws.run('{ __typename }')).errors).toBeUndefined();
    const printed: unknown[] = [];
    const write = process.stderr.write.bind(process.stderr);
    const consoleError = console.error;
    process.stderr.write = ((chunk: unknown, ...rest: unknown[]) => {
      printed.push(chunk);
      return (write as (...a: unknown[]) => boolean)(chunk, ...rest);
    }) as typeof process.stderr.write;
    console.error = (...args: unknown[]) => printed.push(args);
    let inner = 'slug';
    for (let i = 0; i < 6; i++) inner = `members { org { ${inner} } }`;
    const documents = [
      `{ ${Array.from({ length: 40 }, (_, i) => `a${i}: plans { code }`).join(' ')} }`,
      `{ viewer { memberships { org { ${inner} } } } }`,
      `{ ${Array.from({ length: 700 }, () => 'plans { code }').join(' ')} }`,
    ];
    const answers: GraphQLResponse[] = [];
    try {
      for (const document of documents) answers.push(await ws.run(document));
      await new Promise((r) => setTimeout(r, 100));
    } finally {
      process.stderr.write = write;
      console.error = consoleError;
    }
    for (const [i, answer] of answers.entries()) {
      expect(codeOf(answer)).toBe('BAD_USER_INPUT');
      expect(answer.errors![0]!.message).toMatch(/limit of .* Make the document smaller/);
      // The same error as over HTTP.
      const overHttp = await server.gql(documents[i]!, {}, org.ownerToken);
      expect(answer.errors![0]!.message).toBe(overHttp.errors![0]!.message);
      expect(codeOf(overHttp)).toBe('BAD_USER_INPUT');
    }
    expect(printed).toEqual([]);
    expect((await ws.run('{ __typename }')).errors).toBeUndefined();
    expect(ws.closedWith()).toBeUndefined();
  });

  describe('across instances', () => {
    const instances = twoInstances(kind);

    it('a key revoked on one instance is refused on a socket of another, and its subscriptions there end', async () => {
      const { server: first, second } = instances;
      const org = await createTestOrg(first, 'pro');
      const key = await createTestKey(first, org, { scopes: ['USAGE_WRITE', 'USAGE_READ'] });
      const ws = track(wsSession(second.url, key.secret));
      const usage = track(ws.subscribe(USAGE_UPDATED, { orgId: org.id }));
      const sse = track(sseSubscribe(second.url, USAGE_UPDATED, { orgId: org.id }, key.secret));
      await usage.until((r) => usedIn(r) !== undefined);
      await sse.until((r) => usedIn(r) !== undefined);
      expect((await ws.run(WHO_AM_I)).errors).toBeUndefined();

      expect((await first.gql(REVOKE, { id: key.id }, org.ownerToken)).errors).toBeUndefined();
      await expectEndedWith(usage, 'UNAUTHENTICATED');
      await expectEndedWith(sse, 'UNAUTHENTICATED');
      // The subscriptions ended once the other instance heard of it: operations are refused too.
      expect(codeOf(await recordOn(ws, org))).toBe('UNAUTHENTICATED');
      expect(codeOf(await ws.run(WHO_AM_I))).toBe('UNAUTHENTICATED');
      await ws.close();
    });
  });
});
