/** The pure billing core: no IO, no clock (instants are always passed in). */
export * from './aggregation.ts';
export * from './billing-rule-error.ts';
export * from './entitlements.ts';
export * from './money.ts';
export { computeOverageLine, type OverageLine, overageThreshold, summarizeOverages } from './overage.ts';
export * from './periods.ts';
export * from './pricing.ts';
export * from './quota.ts';
export { localDateOf, startOfLocalDay } from './time-zone.ts';
