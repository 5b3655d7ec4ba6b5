import type { Logger } from 'pino';
import { type App, createApp } from './app.ts';
import { developmentSecret } from './auth/dev-secret.ts';
import type { Config } from './config.ts';
import type { Clock } from './context.ts';
import { type Database, openDatabase } from './db/client.ts';
import { migrate } from './db/migrate.ts';
import { createKeyServices, type KeyServices } from './keys/services.ts';
import { ensureCatalog } from './plans/catalog.ts';

export type Meterline = {
  app: App;
  database: Database;
  jwtSecret: string;
  adminUserIds: string[];
  /** API-key rate limiter and last-use tracker. */
  keys: KeyServices;
  /** Drains HTTP, flushes API-key last uses, then closes the database. */
  close(): Promise<void>;
};

export const DEV_ADMIN_USER_ID = 'admin';

/**
 * Config -> database (migrated, with the default catalog) -> app. Shared by the server entry,
 * the seed command and the integration tests, so all of them run the same start-up.
 */
export async function startMeterline(
  config: Config,
  options: { log: Logger; clock?: Clock; database?: Database },
): Promise<Meterline> {
  const devMode = config.jwtSecret === undefined;
  const jwtSecret = config.jwtSecret ?? developmentSecret(config.dataDir);
  // The development mode has a ready-made platform admin so the printed header works.
  const adminUserIds =
    devMode && config.adminUserIds.length === 0 ? [DEV_ADMIN_USER_ID] : [...config.adminUserIds];
  const database =
    options.database ?? (await openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir }));
  try {
    await migrate(database);
    await ensureCatalog(database.db);
  } catch (error) {
    await database.close();
    throw error;
  }
  const keys = createKeyServices({ db: database.db, log: options.log, redisUrl: config.redisUrl });
  const app = createApp({
    database,
    auth: { jwtSecret, adminUserIds, serviceTokens: config.serviceTokens },
    settings: {
      enableOverageBilling: config.enableOverageBilling,
      usageLateWindowDays: config.usageLateWindowDays,
    },
    clock: options.clock ?? (() => new Date()),
    log: options.log,
    keys,
    production: config.nodeEnv === 'production',
  });
  return {
    app,
    database,
    jwtSecret,
    adminUserIds,
    keys,
    async close() {
      await app.close();
      // After the last request: every use it noted is written before the database closes.
      await keys.close();
      await database.close();
    },
  };
}
