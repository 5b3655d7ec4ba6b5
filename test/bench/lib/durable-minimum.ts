import postgres from 'postgres';

/** The durable minimum's table (peer-server.ts): one primary-key column, the consumptions' keys. */
export const DURABLE_MINIMUM_TABLE = 'bench_durable_minimum';

/** How many keys the durable minimum has committed so far (its peer makes the table as it starts). */
export async function durableMinimumRows(databaseUrl: string): Promise<bigint> {
  const sql = postgres(databaseUrl, { max: 1, onnotice: () => {} });
  try {
    const [row] = await sql.unsafe(`select count(*) as n from ${DURABLE_MINIMUM_TABLE}`);
    return BigInt(row?.n as string);
  } finally {
    await sql.end();
  }
}
