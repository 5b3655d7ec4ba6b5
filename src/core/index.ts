/**
 * Meterline's rules, pure: money and rounding, periods and time zones, pricing and overage,
 * entitlements, quota and consumption decisions, budgets, aggregation, forecasts, usage views and
 * the shape of a usage event. Nothing here does IO or reads the clock (instants are passed in),
 * and nothing imports from outside this folder but decimal.js: test/unit/architecture.test.ts
 * holds both. The rest of the server imports the rules from this file only.
 */
export * from './aggregation.ts';
export * from './alert-thresholds.ts';
export * from './billing-rule-error.ts';
export * from './calendar-cache.ts';
export * from './catalog.ts';
export * from './consumption.ts';
export * from './currencies.ts';
export * from './days.ts';
export * from './decide-batch.ts';
export * from './entitlement-resolution.ts';
export * from './entitlements.ts';
export * from './forecast.ts';
export * from './idempotency-key.ts';
export * from './invoice-item-description.ts';
export * from './meters.ts';
export * from './money.ts';
export * from './overage.ts';
export * from './periods.ts';
export * from './price-tiers.ts';
export * from './pricing.ts';
export * from './quota.ts';
export * from './quota-view.ts';
export * from './safe-integer.ts';
export * from './storable-text.ts';
export * from './time-zone.ts';
export * from './usage-event-rules.ts';
