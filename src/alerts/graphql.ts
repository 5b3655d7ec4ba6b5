import { wholeNumberFrom } from '../argument-ranges.ts';
import { builder } from '../builder.ts';
import type { Context } from '../context.ts';
import { Dec } from '../core/index.ts';
import { guardLiveStream, type Lapse, unlessLapsed } from '../live/credential-guard.ts';
import { authorizeLiveOrg } from '../live/graphql.ts';
import { Queue } from '../live/queue.ts';
import { MoneyRef } from '../money-graphql.ts';
import { BillingPeriodRef, OrgRef } from '../orgs/graphql.ts';
import { loadOrgOwnedNodes, orgOwnedId } from '../orgs/org-owned-node.ts';
import { MetricRef, metricByKey } from '../plans/graphql.ts';
import { alertById, recentAlerts, type UsageAlertRow } from './repository.ts';

const UsageAlertKindEnum = builder.enumType('UsageAlertKind', {
  values: {
    USAGE: {
      description:
        "A metric reached a share of its included amount (or hard limit when overage isn't priced).",
    },
    BUDGET: { description: "The period's overage cost reached a share of the org's budget cap." },
  } as const,
});

const UsageAlertRef = builder.loadableNodeRef('UsageAlert', {
  id: { resolve: (a: UsageAlertRow) => orgOwnedId(a.orgId, a.id) },
  load: (ids: string[], ctx: Context) =>
    loadOrgOwnedNodes(ctx, ids, {
      part: 'usage',
      load: (c, key) => alertById(c.db, { orgId: key.orgId, alertId: key.id }),
    }),
});

UsageAlertRef.implement({
  description: 'Fired once per org, kind, metric, period and threshold.',
  fields: (t) => ({
    kind: t.field({ type: UsageAlertKindEnum, resolve: (a) => a.kind }),
    threshold: t.int({ description: 'Percent: 80, 90 or 100.', resolve: (a) => a.threshold }),
    metric: t.field({
      type: MetricRef,
      nullable: true,
      resolve: (a, _args, ctx) => (a.kind === 'USAGE' ? metricByKey(ctx, a.metricKey) : null),
    }),
    used: t.field({ type: 'SafeInt', nullable: true, resolve: (a) => a.used }),
    limit: t.field({
      type: 'SafeInt',
      nullable: true,
      description: 'The units the percentage is of.',
      resolve: (a) => a.limitUnits,
    }),
    cost: t.field({
      type: MoneyRef,
      nullable: true,
      description: 'BUDGET: the overage cost when fired.',
      resolve: (a) =>
        a.cost === null || a.currency === null ? null : { amount: new Dec(a.cost), currency: a.currency },
    }),
    budgetCap: t.field({
      type: MoneyRef,
      nullable: true,
      resolve: (a) =>
        a.budgetCap === null || a.currency === null
          ? null
          : { amount: new Dec(a.budgetCap), currency: a.currency },
    }),
    period: t.field({ type: BillingPeriodRef, resolve: (a) => ({ start: a.periodStart, end: a.periodEnd }) }),
    firedAt: t.field({ type: 'DateTime', resolve: (a) => a.firedAt }),
  }),
});

builder.objectFields(OrgRef, (t) => ({
  usageAlerts: t.field({
    authScopes: { orgData: 'usage' },
    type: [UsageAlertRef],
    description: 'The alerts fired for this org, newest first.',
    args: {
      first: t.arg.int({
        defaultValue: 20,
        validate: wholeNumberFrom(1, 200, 'first must be between 1 and 200.'),
      }),
    },
    resolve: (org, args, ctx) => recentAlerts(ctx.db, { orgId: org.id, limit: args.first ?? 20 }),
  }),
}));

builder.subscriptionFields((t) => ({
  usageAlert: t.field({
    type: UsageAlertRef,
    description: 'Alerts as they fire (80 / 90 / 100 % of a limit, and budget), each once per period.',
    authScopes: { authenticated: true },
    args: { orgId: t.arg.id({ required: true }) },
    subscribe: async (_root, { orgId }, ctx) => {
      const org = await authorizeLiveOrg(ctx, String(orgId));
      const { db, live, log } = ctx;
      const queue: Queue<UsageAlertRow> = new Queue(() => {
        unsubscribe();
        untrack();
      });
      // Messages carry the alert's id: the row is read back, so every instance shows the stored alert.
      // Reads are chained so alerts reach the subscriber in the order they fired (80 before 90).
      let reading: Promise<void> = Promise.resolve();
      const unsubscribe = live.bus.subscribe((message) => {
        if (message.t !== 'alert' || message.orgId !== org.id) return;
        const { alertId } = message;
        reading = reading
          .then(() => alertById(db, { orgId: org.id, alertId }))
          .then((row) => void (row && queue.push(row)))
          .catch((error: unknown) => log.error({ err: error }, 'usage alerts: reading an alert failed'));
      });
      const untrack = live.trackStream(() => void queue.return());
      return guardLiveStream(ctx, org.id, queue);
    },
    resolve: (alert: UsageAlertRow | Lapse) => unlessLapsed(alert),
  }),
}));
