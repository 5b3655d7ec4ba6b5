import { isIP } from 'node:net';
import ipaddr from 'ipaddr.js';

/** WEBHOOK_ALLOWED_TARGETS parsed: host names taken as they are, and address ranges. */
export type AllowedTargets = {
  hosts: ReadonlySet<string>;
  ranges: readonly [ipaddr.IPv4 | ipaddr.IPv6, number][];
};

export const NO_ALLOWED_TARGETS: AllowedTargets = { hosts: new Set(), ranges: [] };

/**
 * Parses `host,10.0.0.0/8,127.0.0.1,fd00::/8`: an entry with a `/` is a range, an address is a
 * range of one, anything else a host name (compared case-insensitively, without a trailing dot).
 * Throws with a message naming the entry it cannot read.
 */
export function parseAllowedTargets(entries: readonly string[]): AllowedTargets {
  const hosts = new Set<string>();
  const ranges: [ipaddr.IPv4 | ipaddr.IPv6, number][] = [];
  for (const entry of entries) {
    if (entry.includes('/')) {
      try {
        ranges.push(ipaddr.parseCIDR(entry));
      } catch {
        throw new Error(`"${entry}" is not an address range (expected e.g. 10.0.0.0/8 or fd00::/8)`);
      }
    } else if (isIP(entry)) {
      const address = ipaddr.parse(entry);
      ranges.push([address, address.kind() === 'ipv4' ? 32 : 128]);
    } else if (/^[a-z0-9]([a-z0-9.-]*[a-z0-9])?\.?$/i.test(entry)) {
      hosts.add(normalizeHost(entry));
    } else {
      throw new Error(`"${entry}" is neither a host name, an address nor an address range`);
    }
  }
  return { hosts, ranges };
}

/** A host name as compared: lower case, without a trailing dot. */
export function normalizeHost(host: string): string {
  return host.toLowerCase().replace(/\.$/, '');
}
