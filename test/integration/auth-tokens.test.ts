import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { signUserToken } from '../../src/auth/tokens.ts';
import { testDatabases } from '../helpers/databases.ts';
import { codeOf, createTestOrg, type TestOrg } from '../helpers/fixtures.ts';
import { PLATFORM_ADMIN, startTestServer, TEST_JWT_SECRET, type TestServer } from '../helpers/server.ts';

const key = new TextEncoder().encode(TEST_JWT_SECRET);
const now = () => Math.floor(Date.now() / 1000);

/** A token signed with the server's secret, with exactly the claims given. */
function jwt(claims: Record<string, unknown>): Promise<string> {
  return new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).sign(key);
}

const VIEWER = '{ viewer { userId } }';

describe.each(testDatabases())('user tokens and the Authorization header (%s)', (kind) => {
  let server: TestServer;
  let org: TestOrg;
  beforeAll(async () => {
    server = await startTestServer(kind);
    org = await createTestOrg(server, 'pro');
  });
  afterAll(() => server?.close());

  it('accepts the tokens the project mints (exp and iat)', async () => {
    const res = await server.gql<{ viewer: { userId: string } }>(VIEWER, {}, org.ownerToken);
    expect(res.data?.viewer.userId).toBe(org.ownerId);
    const skewed = await jwt({ sub: org.ownerId, iat: now() + 30, nbf: now() + 30, exp: now() + 600 });
    expect((await server.gql(VIEWER, {}, skewed)).errors).toBeUndefined();
  });

  it('refuses a token without exp, and one issued or valid only in the future', async () => {
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ sub: PLATFORM_ADMIN, iat: now() }, /no expiry \(exp\)/],
      [{ sub: PLATFORM_ADMIN }, /no expiry \(exp\)/],
      [{ sub: PLATFORM_ADMIN, iat: now() + 3600, exp: now() + 7200 }, /issued in the future \(iat\)/],
      [{ sub: PLATFORM_ADMIN, iat: now(), nbf: now() + 3600, exp: now() + 7200 }, /not valid yet \(nbf/],
      [{ sub: PLATFORM_ADMIN, iat: now() - 7200, exp: now() - 3600 }, /expired/],
    ];
    for (const [claims, message] of cases) {
      const res = await server.gql(VIEWER, {}, await jwt(claims));
      expect(codeOf(res), JSON.stringify(claims)).toBe('UNAUTHENTICATED');
      expect(res.errors?.[0]?.message).toMatch(message);
    }
  });

  it('answers a malformed Authorization header with UNAUTHENTICATED saying what was expected', async () => {
    const token = org.ownerToken;
    const cases: [string, RegExp][] = [
      [`Bearer Bearer ${token}`, /"Bearer" twice/],
      [`{"Authorization": "Bearer ${token}"}`, /JSON object/],
      [token, /no scheme/],
      [`Basic ${Buffer.from('a:b').toString('base64')}`, /scheme "Basic" is not supported/],
      [`Token ${token}`, /scheme "Token" is not supported/],
      ['Bearer', /no token after it/],
      [`Bearer ${token} extra`, /one token/],
    ];
    for (const [header, message] of cases) {
      const res = await server.gql(VIEWER, {}, undefined, { authorization: header });
      expect(codeOf(res), header).toBe('UNAUTHENTICATED');
      expect(res.errors?.[0]?.message, header).toMatch(message);
      expect(res.errors?.[0]?.message, header).toMatch(/Authorization: Bearer <token>/);
    }
    // Well-formed: any case of the scheme, surrounding spaces; no header at all is anonymous.
    const ok = await server.gql<{ viewer: { userId: string } }>(VIEWER, {}, undefined, {
      authorization: `  bearer ${token} `,
    });
    expect(ok.data?.viewer.userId).toBe(org.ownerId);
    const anonymous = await server.gql(VIEWER, {});
    expect(anonymous.errors).toBeUndefined();
    expect(anonymous.data).toEqual({ viewer: { userId: null } });
  });

  it('refuses a malformed authorization in WebSocket connection parameters', async () => {
    const closed = await new Promise<number>((resolve, reject) => {
      const socket = new WebSocket(`${server.url.replace('http', 'ws')}/graphql`, 'graphql-transport-ws');
      socket.on('open', () =>
        socket.send(
          JSON.stringify({
            type: 'connection_init',
            payload: { authorization: `Bearer Bearer ${org.ownerToken}` },
          }),
        ),
      );
      socket.on('close', (code) => resolve(code));
      socket.on('error', reject);
    });
    expect(closed).toBe(4403);
  });
});

describe.each(testDatabases())('JWT_ISSUER and JWT_AUDIENCE (%s)', (kind) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer(kind, {
      env: { JWT_ISSUER: 'https://id.example', JWT_AUDIENCE: 'meterline' },
    });
  });
  afterAll(() => server?.close());

  it('are checked when set', async () => {
    const good = await signUserToken(TEST_JWT_SECRET, PLATFORM_ADMIN, '1h', {
      issuer: 'https://id.example',
      audience: 'meterline',
    });
    expect((await server.gql(VIEWER, {}, good)).errors).toBeUndefined();
    const cases: [{ issuer?: string; audience?: string }, RegExp][] = [
      [{}, /no issuer/],
      [{ issuer: 'https://id.example' }, /no audience/],
      [{ issuer: 'https://evil.example', audience: 'meterline' }, /another issuer/],
      [{ issuer: 'https://id.example', audience: 'other' }, /another audience/],
    ];
    for (const [claims, message] of cases) {
      const res = await server.gql(
        VIEWER,
        {},
        await signUserToken(TEST_JWT_SECRET, PLATFORM_ADMIN, '1h', claims),
      );
      expect(codeOf(res), JSON.stringify(claims)).toBe('UNAUTHENTICATED');
      expect(res.errors?.[0]?.message).toMatch(message);
    }
  });
});
