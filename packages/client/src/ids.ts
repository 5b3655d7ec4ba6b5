/**
 * UUIDv7 (RFC 9562) event ids: 48 bits of Unix milliseconds, then a 12-bit counter, then 62
 * random bits. Ids sort by creation time, so the ledger's index on event ids stays append-mostly
 * and an id tells roughly when the event was tracked. The counter (RFC 9562 §6.2, method 1) keeps
 * ids made in the same millisecond in order; when it runs out the timestamp is advanced by one
 * millisecond instead, so ids from one process are strictly increasing even if the clock steps back.
 *
 * Small on purpose: no dependency, and `crypto.getRandomValues` is there in Node, Deno, Bun,
 * browsers and workers.
 */
let lastMs = 0;
let counter = 0;

const hex: string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

export function uuidv7(now: number = Date.now()): string {
  const bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes);
  if (now > lastMs) {
    lastMs = now;
    // A random start, top bit clear, leaves at least 2,048 increments for the same millisecond.
    counter = ((bytes[6]! << 8) | bytes[7]!) & 0x7ff;
  } else if (counter < 0xfff) {
    counter++;
  } else {
    lastMs++;
    counter = 0;
  }
  const ms = lastMs;
  // 48-bit big-endian timestamp (division, since bitwise operators are 32-bit).
  bytes[0] = Math.floor(ms / 2 ** 40) & 0xff;
  bytes[1] = Math.floor(ms / 2 ** 32) & 0xff;
  bytes[2] = (ms >>> 24) & 0xff;
  bytes[3] = (ms >>> 16) & 0xff;
  bytes[4] = (ms >>> 8) & 0xff;
  bytes[5] = ms & 0xff;
  bytes[6] = 0x70 | ((counter >>> 8) & 0x0f); // version 7
  bytes[7] = counter & 0xff;
  bytes[8] = 0x80 | (bytes[8]! & 0x3f); // variant 10
  let out = '';
  for (let i = 0; i < 16; i++) {
    if (i === 4 || i === 6 || i === 8 || i === 10) out += '-';
    out += hex[bytes[i]!];
  }
  return out;
}

/** The Unix milliseconds a UUIDv7 was made at (for tests and debugging). */
export function uuidv7Time(id: string): number {
  return Number.parseInt(id.replace(/-/g, '').slice(0, 12), 16);
}
