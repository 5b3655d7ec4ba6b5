/**
 * `npm run soak`: the long soak (default 3 minutes, 48 clients). Prints its figures and writes
 * them to docs/soak.md; exits non-zero when a check failed (the file then says FAILED).
 */
import { describeEnvironment } from '../bench/lib/environment.ts';
import { soakTables, writeSoakReport } from './report.ts';
import { runSoak } from './soak.ts';

const databaseUrl =
  process.env.SOAK_DATABASE_URL ??
  process.env.TEST_DATABASE_URL ??
  'postgres://postgres@127.0.0.1:5432/postgres';
const number = (name: string, fallback: number) => {
  const v = Number(process.env[name] ?? fallback);
  if (!Number.isFinite(v) || v <= 0) throw new Error(`${name} must be a positive number`);
  return v;
};

async function main() {
  const log = (line: string) => console.log(line);
  const env = await describeEnvironment(databaseUrl, process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
  const result = await runSoak({
    databaseUrl,
    seconds: number('SOAK_SECONDS', 180),
    clients: number('SOAK_CLIENTS', 48),
    maxRssGrowthMb: number('SOAK_MAX_RSS_GROWTH_MB', 50),
    maxHeapGrowthMb: number('SOAK_MAX_HEAP_GROWTH_MB', 16),
    log,
  });
  log('');
  for (const line of soakTables(result)) log(line);
  const out = process.env.SOAK_OUT === '' ? null : writeSoakReport(result, env, process.env.SOAK_OUT);
  if (out) log(`\nWrote ${out}.`);
  if (result.problems.length > 0) process.exitCode = 1;
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
