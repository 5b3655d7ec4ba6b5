import { authorizationHeader } from '../auth/dev-secret.ts';
import { signUserToken } from '../auth/tokens.ts';
import { startMeterline } from '../bootstrap.ts';
import { loadConfig } from '../config/config.ts';
import { createLogger } from '../logger.ts';
import { loadDemoData } from './demo-data.ts';

/**
 * `npm run seed`: migrates, makes sure the default catalog exists, loads the demo data set, and
 * prints the platform admin's header, signed with the secret the server checks.
 */
const config = loadConfig();
const log = createLogger(config.logLevel);
// Only the database: the billing run and the outbox workers belong to the server.
const meterline = await startMeterline({ ...config, billingJobs: false }, { log });
try {
  const result = await loadDemoData(meterline.database.db, new Date());
  console.log(
    result.loaded
      ? `Loaded the demo data set (${result.orgs} orgs).`
      : `The database already has ${result.orgs} orgs: demo data not loaded.`,
  );
  const admin = meterline.adminUserIds[0];
  if (admin === undefined) {
    console.log(
      'ADMIN_USER_IDS is empty: no admin header. Make a user token with npm run token -- --sub <user id>.',
    );
  } else {
    const token = await signUserToken(meterline.jwtSecret, admin, '30d', {
      issuer: config.jwtIssuer,
      audience: config.jwtAudience,
    });
    console.log(
      `\nPaste this header into GraphiQL (Headers tab) to act as the platform admin (${admin}):\n\n${authorizationHeader(token)}\n`,
    );
  }
} finally {
  await meterline.close();
}
