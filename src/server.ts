import { type Config, ConfigError, loadConfig } from './config/config.ts';
import { holdPort, type PortHold } from './port.ts';

/** Process entry: config -> port -> database -> app -> listen; SIGINT / SIGTERM drain and close. */
async function main(): Promise<void> {
  let config: Config;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(error.message);
      process.exit(78); // EX_CONFIG
    }
    throw error;
  }
  // The port first: a port in use stops the process before the database, the billing run or the
  // demo data start, with one line instead of a WebSocket server's stack trace.
  let hold: PortHold;
  try {
    hold = await holdPort(config.port, config.host);
  } catch (error) {
    console.error((error as Error).message);
    process.exit(78);
  }
  // The rest of the code loads only now: loading it takes seconds on a busy machine, and a wrong
  // configuration or a port in use must not wait for that.
  const [{ authorizationHeader }, { signUserToken }, { startMeterline }, { loadDemoData }, { createLogger }] =
    await Promise.all([
      import('./auth/dev-secret.ts'),
      import('./auth/tokens.ts'),
      import('./bootstrap.ts'),
      import('./seed/demo-data.ts'),
      import('./logger.ts'),
    ]);
  const log = createLogger(config.logLevel);
  const meterline = await startMeterline(config, { log });
  if (config.demoData) {
    const demo = await loadDemoData(meterline.database.db, new Date());
    if (demo.loaded) log.info({ orgs: demo.orgs }, 'loaded the demo data set');
  }
  const { server } = meterline.app;
  try {
    await hold.handOver(server);
  } catch (error) {
    // Taken between the check and now by another process: nothing was served, so nothing drains.
    console.error((error as Error).message);
    process.exit(78);
  }
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  log.info({ port, pid: process.pid, database: meterline.database.describe }, 'Meterline is listening');

  const admin = meterline.adminUserIds[0];
  if (config.nodeEnv === 'development' && admin !== undefined) {
    const token = await signUserToken(meterline.jwtSecret, admin, '30d', {
      issuer: config.jwtIssuer,
      audience: config.jwtAudience,
    });
    process.stdout.write(
      [
        '',
        `  Meterline (development mode, ${meterline.database.describe})`,
        `  Start page: http://localhost:${port}/`,
        `  GraphiQL:   http://localhost:${port}/graphql (opened on this machine, its Headers tab holds the admin header)`,
        `  Paste this header into GraphiQL (Headers tab) to act as the platform admin (${admin}):`,
        '',
        `  ${authorizationHeader(token)}`,
        '',
        '  Other users: npm run token -- --sub <user id>',
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
