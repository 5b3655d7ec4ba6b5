import { sql } from 'drizzle-orm';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Database, openDatabase } from '../../src/db/client.ts';
import { errorChain, isConnectionLoss } from '../../src/db/connection-loss.ts';
import { startTcpProxy } from '../helpers/tcp-proxy.ts';

type Db = Database['db'];

/**
 * A transaction whose PostgreSQL backend is terminated while its body runs. postgres.js 3.4.9
 * rejects the transaction but then sent `rollback` on the closed connection, which threw from a
 * timer and ended the process (here: an uncaught error that fails the run). Now the transaction
 * fails with the connection's error, nothing more is sent on that connection, and the pool
 * answers again. The storm version of this, through the real server, is
 * faults-pg-terminate.test.ts.
 */
describe.skipIf(!process.env.TEST_DATABASE_URL)('a transaction whose connection is terminated', () => {
  let database: Database;
  let killer: postgres.Sql;
  beforeAll(async () => {
    const url = process.env.TEST_DATABASE_URL!;
    database = await openDatabase({ databaseUrl: url, dataDir: '.data-test', poolSize: 2 });
    killer = postgres(url, { max: 1, onnotice: () => {} });
  });
  afterAll(async () => {
    await killer?.end();
    await database?.close();
  });

  /** Runs a statement that waits, and terminates its backend from outside meanwhile. */
  const killedMidStatement = async (tx: Db) => {
    const [row] = (await tx.execute(sql`select pg_backend_pid() as pid`)) as unknown as { pid: number }[];
    // drizzle sends a statement when it is awaited: start it now.
    const waiting = (async () => tx.execute(sql`select pg_sleep(30)`))();
    // It fails when the backend goes, which may be before `await waiting` below is reached (the
    // close can be read before the killer's answer): handled from now on, still awaited below.
    waiting.catch(() => {});
    await until(async () => {
      const rows = await killer`select 1 from pg_stat_activity where pid = ${row!.pid} and state = 'active'`;
      return rows.length === 1;
    });
    await killer`select pg_terminate_backend(${row!.pid})`;
    await waiting;
  };

  it('fails with the connection’s error and sends no rollback on the dead connection', async () => {
    const error = await database.db.transaction((tx) => killedMidStatement(tx)).catch((e: unknown) => e);
    expect(isConnectionLoss(error)).toBe(true);
    await expectPoolAnswers(database.db);
  });

  it('refuses a statement the body still sends after the loss', async () => {
    // The transaction fails as soon as the connection closes; its body goes on (as code that
    // catches the error and carries on would) and asks for one more statement.
    let body: Promise<unknown> = Promise.resolve();
    const error = await database.db
      .transaction(async (tx) => {
        body = killedMidStatement(tx).then(
          () => undefined,
          () => tx.execute(sql`select 2`).catch((e: unknown) => e),
        );
        throw await body;
      })
      .catch((e: unknown) => e);
    const second = await body;
    expect(isConnectionLoss(error)).toBe(true);
    expect(second).toMatchObject({
      cause: { code: 'CONNECTION_CLOSED', message: expect.stringMatching(/was not sent/) },
    });
    await expectPoolAnswers(database.db);
  });
});

/**
 * A statement's backend is killed while it runs (`pg_terminate_backend`, a failover). postgres.js
 * 3.4.9 keeps that 57P01 and hands it to the next statement of the same pool slot, which fails
 * unsent with the database fine (upstream issue 1223): every request that followed a kill on
 * that slot failed once. Now a read, a write that was never sent and a transaction whose body
 * had not started are sent again; before, each of them failed with 57P01 below.
 */
describe.skipIf(!process.env.TEST_DATABASE_URL)('the statement after a killed one', () => {
  let database: Database;
  let killer: postgres.Sql;
  beforeAll(async () => {
    const url = process.env.TEST_DATABASE_URL!;
    database = await openDatabase({ databaseUrl: url, dataDir: '.data-test', poolSize: 1 });
    killer = postgres(url, { max: 1, onnotice: () => {} });
  });
  afterAll(async () => {
    await killer?.end();
    await database?.close();
  });

  /** Runs `statement` (it must wait) on the pool's one connection and kills its backend meanwhile. */
  const killedWhileRunning = async (statement: ReturnType<typeof sql>) => {
    const [row] = (await database.db.execute(sql`select pg_backend_pid() as pid`)) as unknown as {
      pid: number;
    }[];
    const running = database.db.execute(statement).then(
      () => null,
      (e: unknown) => e,
    );
    await until(async () => {
      const rows = await killer`select 1 from pg_stat_activity where pid = ${row!.pid} and state = 'active'`;
      return rows.length === 1;
    });
    await killer`select pg_terminate_backend(${row!.pid})`;
    return running;
  };

  /** A statement that waits and is not a plain read: what its kill leaves, nothing absorbs. */
  const waitingWrite = sql`with s as (select pg_sleep(30)) select 1 from s`;

  /** The codes in an error and the errors it wraps. */
  const codesOf = (error: unknown) => [...errorChain(error)].map((e) => e.code);

  it('answers a read on the slot whose statement was killed', async () => {
    expect(isConnectionLoss(await killedWhileRunning(waitingWrite))).toBe(true);
    const [after] = (await database.db.execute(sql`select 2 as n`)) as unknown as { n: number }[];
    expect(after!.n).toBe(2);
    // drizzle's query builder reads rows as arrays (postgres.js `values()`): the same.
    expect(isConnectionLoss(await killedWhileRunning(waitingWrite))).toBe(true);
    const [again] = await database.db.select({ n: sql<number>`3` }).from(sql`(select 1) as x`);
    expect(again!.n).toBe(3);
  });

  it('sends a write again only when it was never sent', async () => {
    // The killed write itself goes back to its caller with the closed connection's error. (Sent
    // again, it would have started the slot's next connection and met the kept 57P01 there.)
    const killed = await killedWhileRunning(waitingWrite);
    expect(codesOf(killed)).toContain('CONNECTION_CLOSED');
    expect(codesOf(killed)).not.toContain('57P01');
    // The next one got the killed statement's error, unsent: it is sent again, and answers.
    const [after] = (await database.db.execute(
      sql`with n as (select 4 as n) select n from n`,
    )) as unknown as {
      n: number;
    }[];
    expect(after!.n).toBe(4);
  });

  it('starts a transaction again when its connection was lost before its body ran', async () => {
    expect(isConnectionLoss(await killedWhileRunning(waitingWrite))).toBe(true);
    let bodies = 0;
    const rows = await database.db.transaction(async (tx) => {
      bodies++;
      return (await tx.execute(sql`select 5 as n`)) as unknown as { n: number }[];
    });
    expect(rows[0]!.n).toBe(5);
    expect(bodies).toBe(1);
  });

  it('does not send again a write that was in flight behind the killed one', async () => {
    const [row] = (await database.db.execute(sql`select pg_backend_pid() as pid`)) as unknown as {
      pid: number;
    }[];
    // Without parameters postgres.js pipelines the second behind the first on the one connection:
    // it was sent, and a write in that place may have run before the kill.
    const first = database.db.execute(sql`with s as (select pg_sleep(30)) select 1 from s`).catch((e) => e);
    const second = database.db.execute(sql`with s as (select 5 as n) select n from s`).catch((e) => e);
    await until(async () => {
      const rows = await killer`select 1 from pg_stat_activity where pid = ${row!.pid} and state = 'active'`;
      return rows.length === 1;
    });
    await killer`select pg_terminate_backend(${row!.pid})`;
    expect(isConnectionLoss(await first)).toBe(true);
    // Not sent again: it fails with the closed connection's error. (Sent again, it would have
    // started the slot's next connection and failed with the kept 57P01 instead.)
    expect(codesOf(await second)).toContain('CONNECTION_CLOSED');
    expect(codesOf(await second)).not.toContain('57P01');
    const [after] = (await database.db.execute(
      sql`with n as (select 6 as n) select n from n`,
    )) as unknown as {
      n: number;
    }[];
    expect(after!.n).toBe(6);
  });
});

/**
 * The database is unreachable for a while (its port refuses connections), and statements keep
 * coming, as requests do. postgres.js's default reconnect delay grew with each failed connect
 * (3^n / 100 s, up to 20 s) and was fixed when the connection closed: the ninth statement of the
 * outage waited 5-15 s to fail, and the first one after the database was back waited up to 20 s
 * more, the database answering all along. Now both fail or answer within the capped delay.
 */
describe.skipIf(!process.env.TEST_DATABASE_URL)('a database that is unreachable for a while', () => {
  it('fails each statement at once during the outage and answers as soon as it is back', {
    timeout: 120_000,
  }, async () => {
    const target = new URL(process.env.TEST_DATABASE_URL!);
    const proxy = await startTcpProxy(Number(target.port || 5432));
    const url = new URL(target);
    url.host = `127.0.0.1:${proxy.port}`;
    const database = await openDatabase({ databaseUrl: url.toString(), dataDir: '.data-test', poolSize: 2 });
    try {
      await database.db.execute(sql`select 1`);
      await proxy.refuse();
      /** How long each statement of the outage took to fail, in ms. */
      const failedAfter: number[] = [];
      for (let i = 0; i < 10; i++) {
        const started = Date.now();
        const error = await database.db.execute(sql`select 1`).then(
          () => null,
          (e: unknown) => e,
        );
        failedAfter.push(Date.now() - started);
        expect(isConnectionLoss(error)).toBe(true);
      }
      await proxy.up();
      const started = Date.now();
      const [row] = (await database.db.execute(sql`select 2 as n`)) as unknown as { n: number }[];
      const answeredAfter = Date.now() - started;
      expect(row!.n).toBe(2);
      // The delay is capped at 500 ms; the bound leaves room for a busy machine, and is far
      // below the 5-20 s of the uncapped delay.
      expect(Math.max(...failedAfter), `each failure of the outage (ms): ${failedAfter}`).toBeLessThan(2_000);
      expect(answeredAfter).toBeLessThan(2_000);
    } finally {
      await database.close();
      await proxy.stop();
    }
  });
});

/**
 * Every connection of the pool answers: more statements than connections, at once, and a
 * transaction. The first statement on a replaced connection may still get the killed backend's
 * 57P01 (postgres.js keeps that error across the reconnect, upstream issue 1223): a connection
 * loss, retried once like a client would.
 */
async function expectPoolAnswers(db: Db) {
  const once = async <T>(run: () => Promise<T>): Promise<T> => {
    try {
      return await run();
    } catch (error) {
      if (!isConnectionLoss(error)) throw error;
      return run();
    }
  };
  const rows = await Promise.all(
    Array.from({ length: 6 }, (_, i) => once(() => db.execute(sql`select ${i}::int as n`))),
  );
  expect(rows.map((r) => (r as unknown as { n: number }[])[0]!.n)).toEqual([0, 1, 2, 3, 4, 5]);
  const inTransaction = await once(() =>
    db.transaction(async (tx) => (await tx.execute(sql`select 7 as n`)) as unknown as { n: number }[]),
  );
  expect(inTransaction[0]!.n).toBe(7);
}

async function until(test: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await test())) {
    if (Date.now() > deadline) throw new Error(`not within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
