import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import ipaddr from 'ipaddr.js';
import { type AllowedTargets, normalizeHost } from '../config/allowed-targets.ts';

/**
 * Where outbound webhooks may go. An org's endpoint URL is chosen by its ADMIN, and the server
 * POSTs to it from inside the deployment's network: without these rules an endpoint could reach
 * the database, the cloud metadata service or any other internal port, and the delivery log would
 * tell the admin what answered. Only public unicast addresses are reachable, unless the deployment
 * lists hosts or ranges in WEBHOOK_ALLOWED_TARGETS.
 */

/** Resolves a host name to its addresses (dns.lookup in production; tests may answer themselves). */
export type ResolveHost = (hostname: string) => Promise<{ address: string; family: number }[]>;

export const resolveWithDns: ResolveHost = (hostname) => lookup(hostname, { all: true, verbatim: true });

export type WebhookTargetPolicy = {
  allowed: AllowedTargets;
  /** NODE_ENV=production: only https:// endpoints. */
  requireHttps: boolean;
  resolveHost: ResolveHost;
};

/** IPv6 prefixes whose addresses carry an IPv4 address, judged by that address. */
const EMBEDDING_V4 = new Set(['ipv4Mapped', 'rfc6145', 'rfc6052', '6to4']);

/**
 * Why webhooks may not reach this address, or undefined when it is a public unicast address (or
 * inside an allowed range). Every textual form is parsed to its bytes first, so 0x7f000001,
 * 2130706433, 127.1, ::ffff:7f00:1 and 64:ff9b::7f00:1 are all the loopback address.
 */
export function blockedAddressReason(address: string, allowed: AllowedTargets): string | undefined {
  let parsed: ipaddr.IPv4 | ipaddr.IPv6;
  try {
    parsed = ipaddr.parse(address.replace(/^\[|\]$/g, '').replace(/%.*$/, ''));
  } catch {
    return 'not an IP address';
  }
  if (allowed.ranges.some(([net, bits]) => net.kind() === parsed.kind() && parsed.match(net, bits))) {
    return undefined;
  }
  if (parsed.kind() === 'ipv6') {
    const v6 = parsed as ipaddr.IPv6;
    const range = v6.range();
    if (EMBEDDING_V4.has(range)) return blockedAddressReason(embeddedV4(v6, range), allowed);
    // Global unicast is 2000::/3 only: the rest (::/8 with the old IPv4-compatible form, ULA,
    // link-local, multicast, site-local) never reaches a public receiver.
    if (range !== 'unicast' || (v6.parts[0]! & 0xe000) !== 0x2000) return `${describe(range)} IPv6 address`;
    return undefined;
  }
  const range = parsed.range();
  return range === 'unicast' ? undefined : `${describe(range)} address`;
}

function embeddedV4(v6: ipaddr.IPv6, range: string): string {
  const p = v6.parts;
  // 6to4 (2002::/16) carries it in the 2nd and 3rd groups; the others in the last two.
  const [hi, lo] = range === '6to4' ? [p[1]!, p[2]!] : [p[6]!, p[7]!];
  return [hi >> 8, hi & 0xff, lo >> 8, lo & 0xff].join('.');
}

function describe(range: string): string {
  const names: Record<string, string> = {
    unspecified: 'an unspecified',
    broadcast: 'a broadcast',
    multicast: 'a multicast',
    linkLocal: 'a link-local (or cloud metadata)',
    loopback: 'a loopback',
    carrierGradeNat: 'a carrier-grade NAT (100.64.0.0/10)',
    private: 'a private',
    uniqueLocal: 'a unique local (fc00::/7)',
    reserved: 'a reserved',
  };
  return names[range] ?? `a non-public (${range})`;
}

/** The host without IPv6 brackets, lower case, without a trailing dot. */
export function hostOf(url: URL): string {
  return normalizeHost(url.hostname.replace(/^\[|\]$/g, ''));
}

/**
 * Checks what a URL says by itself, before any DNS: the scheme, and a host that is an address (in
 * any form the URL parser normalizes) or a name that always means this machine. undefined: fine.
 */
export function urlRefusal(url: URL, policy: WebhookTargetPolicy): string | undefined {
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return 'url must start with https://.';
  if (policy.requireHttps && url.protocol !== 'https:') return 'url must start with https://.';
  const host = hostOf(url);
  if (policy.allowed.hosts.has(host)) return undefined;
  if (isIP(host)) {
    const reason = blockedAddressReason(host, policy.allowed);
    return reason ? `url points at ${reason}, which webhooks may not reach.` : undefined;
  }
  if (host === 'localhost' || host.endsWith('.localhost')) {
    return 'url points at this machine (localhost), which webhooks may not reach.';
  }
  return undefined;
}

/** Resolves a host name and answers why one of its addresses may not be reached, if one may not. */
export async function resolvedRefusal(
  host: string,
  policy: WebhookTargetPolicy,
): Promise<{ addresses: { address: string; family: number }[]; reason?: string }> {
  const addresses = await policy.resolveHost(host);
  if (policy.allowed.hosts.has(host)) return { addresses };
  for (const a of addresses) {
    const reason = blockedAddressReason(a.address, policy.allowed);
    if (reason) return { addresses, reason };
  }
  return { addresses };
}
