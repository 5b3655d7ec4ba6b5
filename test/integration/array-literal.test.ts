import { sql } from 'drizzle-orm';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { arrayLiteral } from '../../src/db/array-literal.ts';
import { type Database, openDatabase, openMemoryDatabase } from '../../src/db/client.ts';
import { rowsOf } from '../../src/db/migrate.ts';
import { createScratchDatabase, testDatabases } from '../helpers/databases.ts';

/**
 * arrayLiteral is how billing runs send tens of thousands of rows (one array per column): every
 * text must come back from the database exactly as sent, whatever it holds.
 */
describe.each(testDatabases())('arrayLiteral on %s', (kind) => {
  let database: Database;
  let drop: (() => Promise<void>) | undefined;
  beforeAll(async () => {
    if (kind === 'pglite') database = await openMemoryDatabase();
    else {
      const scratch = await createScratchDatabase();
      drop = scratch.drop;
      database = await openDatabase({ databaseUrl: scratch.url, dataDir: '', poolSize: 1 });
    }
  });
  afterAll(async () => {
    await database?.close();
    await drop?.();
  });

  const roundTrip = async (values: (string | null)[]) => {
    const result = await database.db.execute(
      sql`select v from unnest(${arrayLiteral(values)}::text[]) with ordinality as a(v, n) order by n`,
    );
    return rowsOf<{ v: string | null }>(result).map((r) => r.v);
  };

  it.each([
    [[]],
    [['']],
    [['a', 'b']],
    [['NULL', 'null', null]],
    [['with "quotes"', 'back\\slash', '\\"', 'a,b', '{braces}', ' spaced ', 'tab\tand\nnewline']],
    [['ünïcödé', '😀', 'ʕ•ᴥ•ʔ']],
  ])('keeps %j as sent', async (values) => {
    expect(await roundTrip(values)).toEqual(values);
  });

  it('keeps any text (no NUL, which PostgreSQL cannot store) and nulls in order', async () => {
    const text = fc.string({ unit: 'grapheme', maxLength: 20 }).filter((s) => !s.includes('\u0000'));
    await fc.assert(
      fc.asyncProperty(fc.array(fc.option(text), { maxLength: 30 }), async (values) => {
        expect(await roundTrip(values)).toEqual(values);
      }),
      { numRuns: 60 },
    );
  });

  it('casts to the column types billing sends', async () => {
    const result = await database.db.execute(sql`
      select * from unnest(
        ${arrayLiteral(['00000000-0000-4000-8000-000000000001'])}::uuid[],
        ${arrayLiteral(['2026-04-01T00:00:00.000Z'])}::timestamptz[],
        ${arrayLiteral(['9007199254740991'])}::bigint[],
        ${arrayLiteral(['0.000123456789012345678901234567890', null])}::numeric[]
      ) as x(id, at, n, amount)`);
    const rows = rowsOf<{
      id: string | null;
      at: string | Date | null;
      n: string | bigint | null;
      amount: string | null;
    }>(result);
    expect(
      rows.map((r) => [r.id, r.at && new Date(r.at).toISOString(), r.n && String(r.n), r.amount]),
    ).toEqual([
      [
        '00000000-0000-4000-8000-000000000001',
        '2026-04-01T00:00:00.000Z',
        '9007199254740991',
        '0.000123456789012345678901234567890',
      ],
      [null, null, null, null],
    ]);
  });
});
