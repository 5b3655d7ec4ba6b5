import postgres from 'postgres';

export type TestDatabaseKind = 'pglite' | 'postgres';

/**
 * The databases integration suites run against: always the embedded PGlite, and the PostgreSQL
 * server at TEST_DATABASE_URL when it is set (CI sets it).
 */
export function testDatabases(): TestDatabaseKind[] {
  return process.env.TEST_DATABASE_URL ? ['pglite', 'postgres'] : ['pglite'];
}

let counter = 0;

/**
 * Makes a new, empty PostgreSQL database for one suite; `drop` removes it. `icuLocale`: the
 * database's default collation is ICU's for that locale (as a production database's may be)
 * instead of the server's.
 */
export async function createScratchDatabase(
  options: { icuLocale?: string } = {},
): Promise<{ url: string; drop(): Promise<void> }> {
  const base = process.env.TEST_DATABASE_URL;
  if (!base) throw new Error('TEST_DATABASE_URL is not set');
  const name = `meterline_t_${process.pid}_${Date.now().toString(36)}_${counter++}`;
  const admin = postgres(base, { max: 1, onnotice: () => {} });
  const collation = options.icuLocale
    ? ` template template0 locale_provider icu icu_locale '${options.icuLocale.replaceAll("'", "''")}'`
    : '';
  await admin.unsafe(`create database "${name}"${collation}`);
  await admin.end();
  const url = new URL(base);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const sql = postgres(base, { max: 1, onnotice: () => {} });
      try {
        await sql.unsafe(`drop database if exists "${name}" with (force)`);
      } finally {
        await sql.end();
      }
    },
  };
}
