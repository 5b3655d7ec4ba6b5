import { builder } from '../builder.ts';
import { type AuditRow, auditPage } from './audit.ts';

const AuditEntryRef = builder.objectRef<AuditRow>('AuditEntry').implement({
  description: 'One admin mutation: who did what to which target, with the target before and after.',
  fields: (t) => ({
    id: t.exposeString('id'),
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
