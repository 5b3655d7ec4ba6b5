import { resolveOffsetConnection } from '@pothos/plugin-relay';
import { actorOf } from '../audit/audit.ts';
import { builder } from '../builder.ts';
import type { Context } from '../context.ts';
import { Dec, isBillingRuleError, minorToStripeAmount } from '../core/index.ts';
import { checkedOffsetArgs } from '../cursors.ts';
import { badInput } from '../errors.ts';
import { MoneyRef } from '../money-graphql.ts';
import { OrgRef, requireVisibleOrg } from '../orgs/graphql.ts';
import { loadOrgOwnedNodes, orgOwnedId } from '../orgs/org-owned-node.ts';
import { MetricRef, metricByKey } from '../plans/graphql.ts';
import { unwrap } from '../result.ts';
import { closeBillingPeriods } from './close-period.ts';
import { OverageSummaryRef } from './graphql.ts';
import {
  closedPeriodOf,
  type InvoiceItemRow,
  invoiceItemById,
  invoiceItemCount,
  invoiceItemsOfPeriod,
  invoiceItemsPage,
} from './invoice-items.ts';
import { recalculateAllOverages } from './recalculate-all.ts';

export const InvoiceItemStatusEnum = builder.enumType('InvoiceItemStatus', {
  values: ['PENDING', 'SENT', 'FAILED'] as const,
});

export const InvoiceItemRef = builder.loadableNodeRef('InvoiceItem', {
  id: { resolve: (i: InvoiceItemRow) => orgOwnedId(i.orgId, i.id) },
  load: (ids: string[], ctx: Context) =>
    loadOrgOwnedNodes(ctx, ids, { part: 'billing', load: (c, key) => invoiceItemById(c.db, key) }),
});

InvoiceItemRef.implement({
  description: 'One overage charge in the outbox to Stripe: one per (org, metric, closed period).',
  fields: (t) => ({
    metric: t.field({ type: MetricRef, resolve: (i, _args, ctx) => metricByKey(ctx, i.metricKey) }),
    periodStart: t.field({ type: 'DateTime', resolve: (i) => i.periodStart }),
    periodEnd: t.field({ type: 'DateTime', resolve: (i) => i.periodEnd }),
    description: t.exposeString('description'),
    amount: t.field({
      type: MoneyRef,
      resolve: (i) => ({ amount: new Dec(i.amount), currency: i.currency }),
    }),
    stripeAmount: t.field({
      type: 'SafeInt',
      nullable: true,
      description:
        "The `amount` sent to Stripe: `amount.amountMinor` in Stripe's unit for the currency (x100 for ISK and UGX, /100 for MGA, the same otherwise); null for an item whose amount Stripe cannot charge.",
      resolve: (i) => {
        try {
          return minorToStripeAmount(i.amountMinor, i.currency);
        } catch (error) {
          if (isBillingRuleError(error)) return null;
          throw error;
        }
      },
    }),
    idempotencyKey: t.exposeString('idempotencyKey'),
    status: t.field({ type: InvoiceItemStatusEnum, resolve: (i) => i.status }),
    stripeId: t.exposeString('stripeId', { nullable: true }),
    stripeInvoiceId: t.exposeString('stripeInvoiceId', { nullable: true }),
    invoiceStatus: t.exposeString('invoiceStatus', {
      nullable: true,
      description: "The Stripe invoice's last known state: finalized, paid or payment_failed.",
    }),
    attempts: t.exposeInt('attempts'),
    lastError: t.exposeString('lastError', { nullable: true }),
    nextAttemptAt: t.field({
      type: 'DateTime',
      nullable: true,
      resolve: (i) => (i.status === 'PENDING' ? i.nextAttemptAt : null),
    }),
    createdAt: t.field({ type: 'DateTime', resolve: (i) => i.createdAt }),
    sentAt: t.field({ type: 'DateTime', nullable: true, resolve: (i) => i.sentAt }),
  }),
});

builder.objectFields(OrgRef, (t) => ({
  invoiceItems: t.connection(
    {
      type: InvoiceItemRef,
      authScopes: { orgData: 'billing' },
      description: "The org's overage charges for Stripe, newest period first.",
      resolve: async (org, args, ctx) =>
        resolveOffsetConnection(
          { args: checkedOffsetArgs(args), totalCount: await invoiceItemCount(ctx.db, org.id) },
          ({ limit, offset }) => invoiceItemsPage(ctx.db, { orgId: org.id, limit, offset }),
        ),
    },
    { name: 'InvoiceItemConnection' },
    { name: 'InvoiceItemEdge' },
  ),
}));

builder.objectFields(OverageSummaryRef, (t) => ({
  closedAt: t.field({
    type: 'DateTime',
    nullable: true,
    description: 'When the period was closed (its lines are final); null: still open.',
    resolve: async (s, _args, ctx) =>
      (await closedPeriodOf(ctx.db, { orgId: s.orgId, periodStart: s.period.start }))?.closedAt ?? null,
  }),
  invoiceItems: t.field({
    type: [InvoiceItemRef],
    description: "The period's invoice items (empty until the period is closed).",
    resolve: (s, _args, ctx) => invoiceItemsOfPeriod(ctx.db, { orgId: s.orgId, periodStart: s.period.start }),
  }),
  invoiced: t.boolean({
    description: 'The period is closed and every one of its invoice items was accepted by Stripe.',
    resolve: async (s, _args, ctx) => {
      const closed = await closedPeriodOf(ctx.db, { orgId: s.orgId, periodStart: s.period.start });
      if (!closed) return false;
      const items = await invoiceItemsOfPeriod(ctx.db, { orgId: s.orgId, periodStart: s.period.start });
      return items.every((i) => i.status === 'SENT');
    },
  }),
}));

const BrokenOrgRef = builder.simpleObject('BillingRunFailure', {
  description: 'An org the run could not process (its data is broken); the others were processed.',
  fields: (t) => ({ orgId: t.string(), message: t.string() }),
});

const RecalculateAllOveragesInput = builder.inputType('RecalculateAllOveragesInput', {
  fields: (t) => ({
    at: t.field({ type: 'DateTime', description: "An instant in each org's period to price; default now." }),
  }),
});

const CloseBillingPeriodInput = builder.inputType('CloseBillingPeriodInput', {
  fields: (t) => ({
    at: t.field({
      type: 'DateTime',
      description:
        "Close each org's period containing `at` (if it has ended); default: each org's last ended period.",
    }),
    orgId: t.id({ description: 'Only this org; default: every org.' }),
  }),
});

builder.mutationFields((t) => ({
  recalculateAllOverages: t.field({
    type: builder.simpleObject('RecalculateAllOveragesPayload', {
      fields: (f) => ({
        orgsProcessed: f.int(),
        linesWritten: f.int(),
        orgsSkippedClosed: f.int({ description: 'Orgs whose period is closed: lines final, untouched.' }),
        totals: f.field({
          type: [MoneyRef],
          description: 'Per currency: the sum of the lines, each rounded once.',
        }),
        failed: f.field({ type: [BrokenOrgRef] }),
      }),
    }),
    authScopes: { $any: { platformAdmin: true, service: true } },
    description:
      "Every org's overage lines for its period containing `at`, set-based and idempotent (audited).",
    args: { input: t.arg({ type: RecalculateAllOveragesInput }) },
    resolve: async (_root, { input }, ctx) => {
      const now = ctx.clock();
      const at = input?.at ?? now;
      if (at.getTime() > now.getTime()) throw badInput('at must not be in the future.');
      return recalculateAllOverages(ctx, {
        at,
        now,
        billingEnabled: ctx.settings.enableOverageBilling,
        audit: { actor: actorOf(ctx.principal) },
      });
    },
  }),
  closeBillingPeriod: t.field({
    type: builder.simpleObject('CloseBillingPeriodPayload', {
      fields: (f) => ({
        periodsClosed: f.int(),
        alreadyClosed: f.int(),
        notEnded: f.int({ description: 'Orgs whose period has not ended yet: left open.' }),
        itemsCreated: f.int({ description: 'Invoice items put into the outbox by this call.' }),
        failed: f.field({ type: [BrokenOrgRef] }),
      }),
    }),
    authScopes: { $any: { platformAdmin: true, service: true } },
    description:
      'Freezes ended periods, writes their final overage lines and puts their invoice items into the outbox, exactly once (audited).',
    args: { input: t.arg({ type: CloseBillingPeriodInput }) },
    resolve: async (_root, { input }, ctx) => {
      const now = ctx.clock();
      const org = input?.orgId ? await requireVisibleOrg(ctx, String(input.orgId)) : null;
      return unwrap(
        await closeBillingPeriods(ctx.db, {
          at: input?.at ?? null,
          orgId: org?.id ?? null,
          now,
          billingEnabled: ctx.settings.enableOverageBilling,
          audit: {
            actor: actorOf(ctx.principal),
            target: org ? `org:${org.id}` : 'billing',
            evenIfIdle: true,
          },
        }),
      );
    },
  }),
}));
