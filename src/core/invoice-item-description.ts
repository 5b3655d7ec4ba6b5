/**
 * The description a person reads on the Stripe invoice line, e.g.
 * "Tokens: 250,000 over 500,000 included x $0.0001". Pure.
 */
import { type Amount, currencyExponent, formatAmount } from './money.ts';
import type { OveragePrice } from './pricing.ts';

const count = (n: bigint) => n.toLocaleString('en-US');

/** A price as written on an invoice: exact (never rounded to cents), "$0.0001" or "0.0001 EUR". */
export function priceText(amount: Amount, currency: string): string {
  const exponent = currencyExponent(currency);
  const text = amount.decimalPlaces() < exponent ? amount.toFixed(exponent) : formatAmount(amount);
  return currency === 'USD' ? `$${text}` : `${text} ${currency}`;
}

export function describeOverageLine(params: {
  metricName: string;
  used: bigint;
  threshold: bigint;
  units: bigint;
  price: OveragePrice | null;
  currency: string;
}): string {
  const { metricName, units, threshold, price, currency } = params;
  const head = `${metricName}: ${count(units)} over ${count(threshold)} included`;
  switch (price?.model) {
    case 'PER_UNIT':
      return `${head} x ${priceText(price.unitPrice, currency)}`;
    case 'PACKAGE': {
      const packages = (units + price.packageSize - 1n) / price.packageSize;
      return `${head}: ${count(packages)} x ${count(price.packageSize)}-unit package at ${priceText(price.packagePrice, currency)}`;
    }
    case 'GRADUATED':
      return `${head}, graduated price (${price.tiers
        .map(
          (t) => `${t.upTo === null ? 'rest' : `to ${count(t.upTo)}`} x ${priceText(t.unitPrice, currency)}`,
        )
        .join(', ')})`;
    default:
      return head;
  }
}
