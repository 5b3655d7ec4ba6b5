import { type AuditRow, auditEntryById, auditKeysetPage, auditPage } from '../audit/audit.ts';
import { isPlatformAdmin } from '../auth/principal.ts';
import { builder } from '../builder.ts';
import type { Context } from '../context.ts';
import { isUuid } from '../db/columns.ts';
import { keysetPage, keysetWindow } from './keyset-window.ts';

const AuditEntryRef = builder.loadableNodeRef('AuditEntry', {
  id: { resolve: (row: AuditRow) => row.id },
  load: (ids: string[], ctx: Context) =>
    Promise.all(
      ids.map(async (id) =>
        isPlatformAdmin(ctx.principal) && isUuid(id) ? ((await auditEntryById(ctx.db, id)) ?? null) : null,
      ),
    ),
});

AuditEntryRef.implement({
  description: 'One admin mutation: who did what to which target, with the target before and after.',
  fields: (t) => ({
    actor: t.exposeString('actor'),
    action: t.exposeString('action'),
    target: t.exposeString('target'),
    before: t.field({ type: 'JSON', nullable: true, resolve: (r) => r.before }),
    after: t.field({ type: 'JSON', nullable: true, resolve: (r) => r.after }),
    at: t.field({ type: 'DateTime', resolve: (r) => r.at }),
  }),
});

builder.queryFields((t) => ({
  auditLog: t.field({
    type: [AuditEntryRef],
    authScopes: { platformAdmin: true },
    description: 'Admin mutations, newest first (platform admin).',
    args: {
      first: t.arg.int({ defaultValue: 50, description: '1 to 500.' }),
      action: t.arg.string(),
      target: t.arg.string(),
      before: t.arg({ type: 'DateTime', description: 'Only entries older than this instant.' }),
    },
    resolve: (_root, args, ctx) =>
      auditPage(ctx.db, {
        limit: Math.min(Math.max(args.first ?? 50, 1), 500),
        action: args.action,
        target: args.target,
        beforeAt: args.before,
      }),
  }),
}));

/** Opaque cursor of an audit entry: its instant and id (the keyset of the newest-first order). */
function encodeAuditCursor(row: AuditRow): string {
  return Buffer.from(`${row.at.toISOString()}|${row.id}`).toString('base64url');
}

function decodeAuditCursor(cursor: string): { at: Date; id: string } | undefined {
  const [at, id] = Buffer.from(cursor, 'base64url').toString().split('|');
  const instant = new Date(at ?? '');
  return id && isUuid(id) && !Number.isNaN(instant.getTime()) ? { at: instant, id } : undefined;
}

builder.queryFields((t) => ({
  auditEntries: t.connection(
    {
      type: AuditEntryRef,
      authScopes: { platformAdmin: true },
      description:
        'Admin mutations as a connection, newest first (platform admin): first / after forward, last / before back.',
      args: { action: t.arg.string(), target: t.arg.string() },
      resolve: async (_root, args, ctx) => {
        const window = keysetWindow(args, { defaultSize: 50, maxSize: 500, decode: decodeAuditCursor });
        const rows = await auditKeysetPage(ctx.db, {
          limit: window.size + 1,
          action: args.action,
          target: args.target,
          cursor: window.cursor,
          backward: window.backward,
        });
        const { page, hasNextPage, hasPreviousPage } = keysetPage(rows, window);
        return {
          edges: page.map((node) => ({ cursor: encodeAuditCursor(node), node })),
          pageInfo: {
            hasNextPage,
            hasPreviousPage,
            startCursor: page[0] ? encodeAuditCursor(page[0]) : null,
            endCursor: page.at(-1) ? encodeAuditCursor(page.at(-1)!) : null,
          },
        };
      },
    },
    { name: 'AuditEntryConnection' },
    { name: 'AuditEntryEdge' },
  ),
}));
