/** Every table, for drizzle-kit and the typed client. Each module owns its tables.ts. */
export * from '../billing/tables.ts';
export * from '../keys/tables.ts';
export * from '../orgs/tables.ts';
export * from '../plans/tables.ts';
export * from '../usage/tables.ts';
