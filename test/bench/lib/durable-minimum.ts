import postgres from 'postgres';

/** The durable minimum's table (peer-server.ts): one primary-key column, the consumptions' keys. */
export const DURABLE_MINIMUM_TABLE = 'bench_durable_minimum';

/** How many keys the durable minimum has committed so far (0 before its first start). */
export async function durableMinimumRows(databaseUrl: string): Promise<bigint> {
  const sql = postgres(databaseUrl, { max: 1, onnotice: () => {} });
  try {
    const [row] = await sql.unsafe(
      `select case when to_regclass('${DURABLE_MINIMUM_TABLE}') is null then 0
         else (select count(*) from ${DURABLE_MINIMUM_TABLE}) end as n`,
    );
    return BigInt(row?.n as string);
  } finally {
    await sql.end();
  }
}
