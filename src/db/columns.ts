import { bigint, numeric, timestamp } from 'drizzle-orm/pg-core';

/** A point in time, stored as timestamptz, read as a JS Date (millisecond precision). */
export const instant = (name: string) => timestamp(name, { withTimezone: true, mode: 'date' });

/**
 * A row's catalog version: moved by the database on every change of what quota decisions are
 * made under (migration 0008's triggers), never written by the application. A number: it counts
 * changes of one row, far below 2^53.
 */
export const catalogVersion = () => bigint('catalog_version', { mode: 'number' }).notNull().default(0);

/** A quantity of a metric: an exact integer, read as a bigint. */
export const quantity = (name: string) => bigint(name, { mode: 'bigint' });

/** An exact decimal amount of money or price (no scale limit), read as a string and parsed with `Dec`. */
export const decimalAmount = (name: string) => numeric(name);

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Ids are UUIDs; anything else can match no row (and must not reach SQL as a uuid). */
export function isUuid(id: string): boolean {
  return UUID.test(id);
}
