import { signUserToken } from './auth/tokens.ts';
import { DEV_ADMIN_USER_ID, startMeterline } from './bootstrap.ts';
import { ConfigError, loadConfig } from './config.ts';
import { loadDemoData } from './db/demo-data.ts';
import { createLogger } from './logger.ts';

/** Process entry: config -> database -> app -> listen; SIGINT / SIGTERM drain and close cleanly. */
async function main(): Promise<void> {
  let config: ReturnType<typeof loadConfig>;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(error.message);
      process.exit(78); // EX_CONFIG
    }
    throw error;
  }
  const log = createLogger(config.logLevel);
  const meterline = await startMeterline(config, { log });
  if (config.demoData) {
    const demo = await loadDemoData(meterline.database.db, new Date());
    if (demo.loaded) log.info({ orgs: demo.orgs }, 'loaded the demo data set');
  }
  const { server } = meterline.app;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.host, () => resolve());
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  log.info({ port, database: meterline.database.describe }, 'Meterline is listening');

  if (config.jwtSecret === undefined && config.nodeEnv !== 'production') {
    const token = await signUserToken(meterline.jwtSecret, DEV_ADMIN_USER_ID);
    const url = `http://localhost:${port}/graphql`;
    process.stdout.write(
      [
        '',
        `  Meterline (development mode, ${meterline.database.describe})`,
        `  GraphiQL:  ${url}`,
        '  Paste this header into GraphiQL (Headers tab) to act as the platform admin:',
        '',
        `  {"Authorization": "Bearer ${token}"}`,
        '',
        '',
      ].join('\n'),
    );
  }

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'draining and shutting down');
    const timer = setTimeout(() => {
      log.error('shutdown took more than 10 s; exiting');
      process.exit(1);
    }, 10_000);
    timer.unref();
    try {
      await meterline.close();
      process.exit(0);
    } catch (error) {
      log.error({ err: error }, 'shutdown failed');
      process.exit(1);
    }
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
