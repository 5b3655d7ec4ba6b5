/**
 * The description a person reads on the Stripe invoice line, e.g.
 * "Tokens: 250,000 over 500,000 included x $0.0001". Pure.
 */
import { type Amount, currencyExponent, formatAmount } from './money.ts';
import { type PriceTier, reachedTier } from './price-tiers.ts';
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
      return `${head}, graduated price (${graduatedTiersText(price.tiers, units, currency)})`;
    case 'VOLUME':
      return units === 0n ? head : `${head}, ${volumeText(price.tiers, units, currency)}`;
    default:
      return head;
  }
}

/** Each tier and its unit price; a tier reached adds its fee, so its fee is written on it. */
function graduatedTiersText(tiers: readonly PriceTier[], units: bigint, currency: string): string {
  let start = 1n; // first overage unit of the tier
  return tiers
    .map((t) => {
      const text = `${t.upTo === null ? 'rest' : `to ${count(t.upTo)}`} x ${priceText(t.unitPrice, currency)}`;
      const reached = units >= start;
      if (t.upTo !== null) start = t.upTo + 1n;
      return reached ? text + feeText(t, currency) : text;
    })
    .join(', ');
}

/** "volume tier 1,001 to 10,000: 1,500 x $0.005 + $20 tier fee": the tier the total reaches. */
function volumeText(tiers: readonly PriceTier[], units: bigint, currency: string): string {
  const tier = reachedTier(units, tiers);
  const index = tiers.indexOf(tier);
  const previous = index > 0 ? tiers[index - 1]?.upTo : null;
  const from = count((previous ?? 0n) + 1n);
  const range = tier.upTo === null ? `${from} and up` : `${from} to ${count(tier.upTo)}`;
  return `volume tier ${range}: ${count(units)} x ${priceText(tier.unitPrice, currency)}${feeText(tier, currency)}`;
}

/** A fee of 0 charges nothing, so the line does not mention it. */
function feeText(tier: PriceTier, currency: string): string {
  const fee = tier.flatAmount;
  return fee && !fee.isZero() ? ` + ${priceText(fee, currency)} tier fee` : '';
}
