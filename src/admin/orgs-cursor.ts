import type { OrgOrderField } from './orgs-connection-repository.ts';

/**
 * Opaque cursors of the orgs connection: the order, the sort key as Postgres printed it, and the
 * org id. The order is part of it so a cursor of another order is refused, not misread.
 */
export function encodeOrgCursor(order: OrgOrderField, key: string, id: string): string {
  return Buffer.from(JSON.stringify([order, key, id])).toString('base64url');
}

export function decodeOrgCursor(
  cursor: string,
  order: OrgOrderField,
): { key: string; id: string } | undefined {
  try {
    const value: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString());
    if (!Array.isArray(value) || value.length !== 3) return undefined;
    const [o, key, id] = value as unknown[];
    if (o !== order || typeof key !== 'string' || typeof id !== 'string') return undefined;
    if (!/^[0-9a-f-]{36}$/i.test(id)) return undefined;
    return { key, id };
  } catch {
    return undefined;
  }
}
