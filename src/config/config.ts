import { z } from 'zod';
import { type AllowedTargets, parseAllowedTargets } from './allowed-targets.ts';
import { parseCron } from './cron.ts';

/**
 * The process configuration, parsed and validated once at start-up. A wrong value stops the
 * process with a message naming the variable and what it expects.
 */
const booleanFlag = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'], { message: 'expected true or false' })
  .transform((v) => v === 'true' || v === '1' || v === 'yes');

const commaList = z.string().transform((v) =>
  v
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0),
);

const optionalString = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === '' ? undefined : v));

const url = (protocols: string[]) =>
  optionalString.refine(
    (v) => v === undefined || protocols.some((p) => v.startsWith(`${p}:`)),
    `expected a URL starting with ${protocols.map((p) => `${p}://`).join(' or ')}`,
  );

const envSchema = z.object({
  PORT: z.coerce
    .number({ message: 'expected a port number' })
    .int('expected an integer port')
    .min(0, 'expected a port between 0 and 65535')
    .max(65535, 'expected a port between 0 and 65535')
    .default(4000),
  HOST: z.string().default('0.0.0.0'),
  DATABASE_URL: url(['postgres', 'postgresql']),
  DATA_DIR: z.string().min(1).default('.data'),
  JWT_SECRET: optionalString.refine(
    (v) => v === undefined || v.length >= 32,
    'expected at least 32 characters (HS256 secret)',
  ),
  /** When set, user tokens must carry this `iss` (and tokens minted here carry it). */
  JWT_ISSUER: optionalString,
  /** When set, user tokens' `aud` must include this (and tokens minted here carry it). */
  JWT_AUDIENCE: optionalString,
  /** Unset: `admin` in development, nobody otherwise. Set (even empty): exactly that list. */
  ADMIN_USER_IDS: commaList.optional(),
  SERVICE_TOKEN: commaList.default([]),
  REDIS_URL: url(['redis', 'rediss']),
  STRIPE_SECRET_KEY: optionalString,
  STRIPE_API_URL: url(['http', 'https']),
  STRIPE_WEBHOOK_SECRET: optionalString,
  ENABLE_OVERAGE_BILLING: booleanFlag.default(true),
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** How old a usage event's timestamp may be, in days (events for closed periods are refused anyway). */
  USAGE_LATE_WINDOW_DAYS: z.coerce
    .number({ message: 'expected a number of days' })
    .int('expected a whole number of days')
    .min(0, 'expected 0 or more days')
    .max(3650, 'expected at most 3650 days')
    .default(35),
  /** When the billing run (period close, then invoicing) runs: a 5-field cron in UTC. */
  BILLING_CRON: z.string().default('0 2 * * *'),
  /** Run the billing jobs (schedule + outbox delivery) in this process. Default: on, except NODE_ENV=test. */
  BILLING_JOBS: booleanFlag.optional(),
  /** How often the outbox is polled for due invoice items, in milliseconds. */
  OUTBOX_POLL_MS: z.coerce
    .number({ message: 'expected milliseconds' })
    .int('expected whole milliseconds')
    .min(100, 'expected at least 100 ms')
    .max(3_600_000, 'expected at most one hour')
    .default(2_000),
  /** Load the demo data set on an empty database. Default: on in the embedded development mode. */
  DEMO_DATA: booleanFlag.optional(),
  /** allow-list: only the bundled client's documents and those in PERSISTED_OPERATIONS_FILE run. */
  PERSISTED_OPERATIONS: z
    .enum(['off', 'allow-list'], { message: 'expected off or allow-list' })
    .default('off'),
  /** A JSON file: an array of GraphQL documents, or an object of sha256 -> document (e.g. a codegen manifest). */
  PERSISTED_OPERATIONS_FILE: optionalString,
  /** Hosts, addresses or ranges outbound webhooks may reach although they are private (off: none). */
  WEBHOOK_ALLOWED_TARGETS: commaList.default([]),
  /** The largest accepted request body, in bytes (HTTP 413 past it). */
  MAX_BODY_BYTES: z.coerce
    .number({ message: 'expected a number of bytes' })
    .int('expected a whole number of bytes')
    .min(1024, 'expected at least 1024 bytes')
    .default(6 * 1024 * 1024),
  /** Set: GET /metrics answers only `Authorization: Bearer <METRICS_TOKEN>`. */
  METRICS_TOKEN: optionalString,
  /** Set: OpenTelemetry traces are sent over OTLP/HTTP to `<endpoint>/v1/traces`. */
  OTEL_EXPORTER_OTLP_ENDPOINT: url(['http', 'https']),
  OTEL_SERVICE_NAME: z.string().min(1).default('meterline'),
});

/** The platform admin of a development server when ADMIN_USER_IDS is unset: `npm run token -- --admin` signs for it. */
export const DEV_ADMIN_USER_ID = 'admin';

export type Config = {
  port: number;
  host: string;
  databaseUrl: string | undefined;
  dataDir: string;
  /** Undefined until resolved: the embedded development mode makes one (see dev-secret.ts). */
  jwtSecret: string | undefined;
  jwtIssuer: string | undefined;
  jwtAudience: string | undefined;
  /** The JWT `sub`s that are platform admins (ADMIN_USER_IDS, or `admin` in development). */
  adminUserIds: string[];
  serviceTokens: string[];
  redisUrl: string | undefined;
  stripeSecretKey: string | undefined;
  stripeApiUrl: string | undefined;
  stripeWebhookSecret: string | undefined;
  enableOverageBilling: boolean;
  usageLateWindowDays: number;
  nodeEnv: 'development' | 'production' | 'test';
  logLevel: string;
  demoData: boolean;
  embedded: boolean;
  billingCron: string;
  billingJobs: boolean;
  outboxPollMs: number;
  persistedOperations: 'off' | 'allow-list';
  persistedOperationsFile: string | undefined;
  maxBodyBytes: number;
  metricsToken: string | undefined;
  otlpEndpoint: string | undefined;
  otelServiceName: string;
  webhookAllowedTargets: AllowedTargets;
};

export class ConfigError extends Error {
  readonly problems: string[];

  constructor(problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((issue) => {
        const name = String(issue.path[0] ?? 'environment');
        const got = env[name];
        return `${name}: ${issue.message}${got === undefined ? '' : ` (got ${JSON.stringify(got)})`}`;
      }),
    );
  }
  const e = parsed.data;
  try {
    parseCron(e.BILLING_CRON);
  } catch (error) {
    throw new ConfigError([`BILLING_CRON: ${(error as Error).message}`]);
  }
  let webhookAllowedTargets: AllowedTargets;
  try {
    webhookAllowedTargets = parseAllowedTargets(e.WEBHOOK_ALLOWED_TARGETS);
  } catch (error) {
    throw new ConfigError([`WEBHOOK_ALLOWED_TARGETS: ${(error as Error).message}`]);
  }
  const embedded = e.DATABASE_URL === undefined;
  if (e.NODE_ENV === 'production' && e.JWT_SECRET === undefined) {
    throw new ConfigError(['JWT_SECRET: required when NODE_ENV=production (at least 32 characters)']);
  }
  return {
    port: e.PORT,
    host: e.HOST,
    databaseUrl: e.DATABASE_URL,
    dataDir: e.DATA_DIR,
    jwtSecret: e.JWT_SECRET,
    jwtIssuer: e.JWT_ISSUER,
    jwtAudience: e.JWT_AUDIENCE,
    adminUserIds: e.ADMIN_USER_IDS ?? (e.NODE_ENV === 'development' ? [DEV_ADMIN_USER_ID] : []),
    serviceTokens: e.SERVICE_TOKEN,
    redisUrl: e.REDIS_URL,
    stripeSecretKey: e.STRIPE_SECRET_KEY,
    stripeApiUrl: e.STRIPE_API_URL,
    stripeWebhookSecret: e.STRIPE_WEBHOOK_SECRET,
    enableOverageBilling: e.ENABLE_OVERAGE_BILLING,
    usageLateWindowDays: e.USAGE_LATE_WINDOW_DAYS,
    nodeEnv: e.NODE_ENV,
    logLevel: e.LOG_LEVEL,
    demoData: e.DEMO_DATA ?? (embedded && e.JWT_SECRET === undefined && e.NODE_ENV === 'development'),
    embedded,
    billingCron: e.BILLING_CRON,
    billingJobs: e.BILLING_JOBS ?? e.NODE_ENV !== 'test',
    outboxPollMs: e.OUTBOX_POLL_MS,
    persistedOperations: e.PERSISTED_OPERATIONS,
    persistedOperationsFile: e.PERSISTED_OPERATIONS_FILE,
    maxBodyBytes: e.MAX_BODY_BYTES,
    metricsToken: e.METRICS_TOKEN,
    otlpEndpoint: e.OTEL_EXPORTER_OTLP_ENDPOINT,
    otelServiceName: e.OTEL_SERVICE_NAME,
    webhookAllowedTargets,
  };
}
