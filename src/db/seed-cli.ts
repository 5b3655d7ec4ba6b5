import { startMeterline } from '../bootstrap.ts';
import { loadConfig } from '../config.ts';
import { createLogger } from '../logger.ts';
import { loadDemoData } from './demo-data.ts';

/** `npm run seed`: migrates, makes sure the default catalog exists, and loads the demo data set. */
const config = loadConfig();
const log = createLogger(config.logLevel);
const meterline = await startMeterline(config, { log });
try {
  const result = await loadDemoData(meterline.database.db, new Date());
  console.log(
    result.loaded
      ? `Loaded the demo data set (${result.orgs} orgs).`
      : `The database already has ${result.orgs} orgs: demo data not loaded.`,
  );
} finally {
  await meterline.close();
}
