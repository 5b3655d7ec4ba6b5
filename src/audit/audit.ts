import { and, asc, desc, eq, gt, lt, or } from 'drizzle-orm';
import type { Principal } from '../auth/principal.ts';
import type { Db } from '../db/client.ts';
import { auditLog } from './tables.ts';

export type AuditRow = typeof auditLog.$inferSelect;

/** Who an audit row names: `user:<id>`, `service`, `apiKey:<id>`; scheduled jobs pass `system`. */
export function actorOf(principal: Principal | 'system'): string {
  if (principal === 'system') return 'system';
  switch (principal.kind) {
    case 'user':
      return `user:${principal.userId}`;
    case 'service':
      return 'service';
    case 'apiKey':
      return `apiKey:${principal.keyId}`;
    case 'anonymous':
      return 'anonymous';
  }
}

/** JSON-safe copy of a row: bigints and decimals become strings, dates ISO strings. */
export function auditJson(value: unknown): unknown {
  return JSON.parse(
    JSON.stringify(value ?? null, (_key, v) => (typeof v === 'bigint' ? v.toString() : v)),
  ) as unknown;
}

/** Writes one audit row; call it with the transaction that makes the change. */
export async function writeAudit(
  db: Db,
  entry: { actor: string; action: string; target: string; before: unknown; after: unknown; at: Date },
): Promise<void> {
  await db.insert(auditLog).values({
    ...entry,
    before: auditJson(entry.before),
    after: auditJson(entry.after),
  });
}

/** One audit entry (node(id); the audit log is the platform's, read by platform admins only). */
export async function auditEntryById(db: Db, id: string): Promise<AuditRow | undefined> {
  const [row] = await db.select().from(auditLog).where(eq(auditLog.id, id)).limit(1);
  return row;
}

/**
 * Newest first; `beforeAt` keeps the entries strictly older than that instant (a filter, not a
 * cursor: entries of one instant are all in or all out; `auditKeysetPage` pages without gaps).
 */
export function auditPage(
  db: Db,
  params: { limit: number; action?: string | null; target?: string | null; beforeAt?: Date | null },
): Promise<AuditRow[]> {
  return db
    .select()
    .from(auditLog)
    .where(
      and(
        params.action ? eq(auditLog.action, params.action) : undefined,
        params.target ? eq(auditLog.target, params.target) : undefined,
        params.beforeAt ? lt(auditLog.at, params.beforeAt) : undefined,
      ),
    )
    .orderBy(desc(auditLog.at), desc(auditLog.id))
    .limit(params.limit);
}

/**
 * One page of the audit log, newest first, from an (at, id) keyset cursor: stable while new
 * entries are written (they sort before the cursor), and no two entries are skipped or repeated.
 * Backward (Relay's last / before), the rows come oldest first from the cursor.
 */
export function auditKeysetPage(
  db: Db,
  params: {
    limit: number;
    action?: string | null;
    target?: string | null;
    cursor?: { at: Date; id: string } | undefined;
    backward: boolean;
  },
): Promise<AuditRow[]> {
  const { cursor, backward } = params;
  const beyond = backward ? gt : lt;
  const order = backward ? asc : desc;
  return db
    .select()
    .from(auditLog)
    .where(
      and(
        params.action ? eq(auditLog.action, params.action) : undefined,
        params.target ? eq(auditLog.target, params.target) : undefined,
        cursor
          ? or(
              beyond(auditLog.at, cursor.at),
              and(eq(auditLog.at, cursor.at), beyond(auditLog.id, cursor.id)),
            )
          : undefined,
      ),
    )
    .orderBy(order(auditLog.at), order(auditLog.id))
    .limit(params.limit);
}
