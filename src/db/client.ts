import { mkdirSync } from 'node:fs';
import { PGlite } from '@electric-sql/pglite';
import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core';
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite';
import { drizzle as drizzlePostgres } from 'drizzle-orm/postgres-js';
import postgres from 'postgres';
import { acquireDataDirLock } from './data-dir-lock.ts';
import { postgresOptions } from './postgres-options.ts';
import { preparingStatements } from './prepared-statements.ts';
/**
 * A database handle or a transaction: repositories take either. No table schema is attached: every
 * query names its tables (each module's tables.ts), so db/ depends on no module.
 */
export type Db = PgDatabase<PgQueryResultHKT>;

export type DatabaseKind = 'postgres' | 'pglite';

export type Database = {
  kind: DatabaseKind;
  db: Db;
  /** A short description for logs, without credentials. */
  describe: string;
  /** The connection URL (postgres only). */
  url?: string;
  /** The most connections the pool opens (postgres only). */
  poolSize?: number;
  close(): Promise<void>;
};

export type OpenDatabaseOptions = {
  databaseUrl?: string | undefined;
  dataDir: string;
  /** Max connections in the postgres.js pool. */
  poolSize?: number;
  /** Called for every SQL statement (tests count them). */
  onQuery?: (sql: string) => void;
};

export async function openDatabase(options: OpenDatabaseOptions): Promise<Database> {
  const logger = options.onQuery ? { logQuery: (q: string) => options.onQuery?.(q) } : undefined;
  if (options.databaseUrl) {
    // bigint columns arrive as strings and are turned into bigint by drizzle.
    const poolSize = options.poolSize ?? 10;
    const client = postgres(options.databaseUrl, { ...postgresOptions('meterline'), max: poolSize });
    const db = drizzlePostgres({ client: preparingStatements(client), logger }) as unknown as Db;
    const url = new URL(options.databaseUrl);
    return {
      kind: 'postgres',
      db,
      describe: `postgres://${url.host}${url.pathname}`,
      url: options.databaseUrl,
      poolSize,
      close: () => client.end({ timeout: 5 }),
    };
  }
  mkdirSync(options.dataDir, { recursive: true });
  // PGlite corrupts a directory that two processes write: refuse a second opener clearly.
  const lock = acquireDataDirLock(options.dataDir);
  try {
    const client = await PGlite.create({ dataDir: options.dataDir });
    const db = drizzlePglite({ client, logger }) as unknown as Db;
    return {
      kind: 'pglite',
      db,
      describe: `embedded PGlite in ${options.dataDir}`,
      close: async () => {
        try {
          await client.close();
        } finally {
          lock.release();
        }
      },
    };
  } catch (error) {
    lock.release();
    throw error;
  }
}

/** An in-memory PGlite database (tests): no data directory, no lock. */
export async function openMemoryDatabase(onQuery?: (sql: string) => void): Promise<Database> {
  const client = await PGlite.create();
  const logger = onQuery ? { logQuery: (q: string) => onQuery(q) } : undefined;
  return {
    kind: 'pglite',
    db: drizzlePglite({ client, logger }) as unknown as Db,
    describe: 'in-memory PGlite',
    close: () => client.close(),
  };
}
