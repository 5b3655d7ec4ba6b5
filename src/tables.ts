/**
 * Every table, for drizzle-kit (drizzle.config.ts). Each module owns its tables.ts. The database
 * client (db/) needs none of them: no query goes through drizzle's relational API (`db.query`).
 */

export * from './alerts/tables.ts';
export * from './audit/tables.ts';
export * from './billing/invoice-items-tables.ts';
export * from './billing/tables.ts';
export * from './keys/tables.ts';
export * from './orgs/tables.ts';
export * from './plans/tables.ts';
export * from './stripe/tables.ts';
export * from './usage/period-tables.ts';
export * from './usage/tables.ts';
export * from './webhooks/tables.ts';
