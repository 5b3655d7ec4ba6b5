import { actorOf, writeAudit } from '../audit/audit.ts';
import { builder } from '../builder.ts';
import { AppError, badInput } from '../errors.ts';
import { createStripeClient } from './client.ts';
import { reconcileStripe } from './reconcile.ts';

const DifferenceRef = builder.simpleObject('ReconciliationDifference', {
  fields: (t) => ({
    kind: t.string({ description: 'MISSING_IN_STRIPE, AMOUNT_MISMATCH, UNKNOWN_IN_STRIPE or STRIPE_ERROR.' }),
    orgId: t.string(),
    idempotencyKey: t.string({ nullable: true }),
    stripeId: t.string({ nullable: true }),
    expectedMinor: t.field({
      type: 'SafeInt',
      nullable: true,
      description:
        "What Meterline sent, in Stripe's unit for the currency (Stripe's `amount`: 1 ISK is 100, 1 MGA is 1); null when the item's amount is not chargeable.",
    }),
    actualMinor: t.field({
      type: 'SafeInt',
      nullable: true,
      description: "What Stripe holds, in Stripe's unit for the currency (Stripe's `amount`).",
    }),
    message: t.string(),
  }),
});

builder.mutationFields((t) => ({
  reconcileStripe: t.field({
    type: builder.simpleObject('ReconcileStripePayload', {
      fields: (f) => ({
        customersChecked: f.int(),
        itemsChecked: f.int(),
        differences: f.field({ type: [DifferenceRef] }),
      }),
    }),
    authScopes: { $any: { platformAdmin: true, service: true } },
    description:
      "Compares Meterline's sent invoice items of the periods containing `at` with Stripe's, and reports every difference (audited; changes nothing).",
    args: { at: t.arg({ type: 'DateTime', description: 'Default: now.' }) },
    resolve: async (_root, args, ctx) => {
      const now = ctx.clock();
      const at = args.at ?? now;
      if (at.getTime() > now.getTime()) throw badInput('at must not be in the future.');
      const stripe = ctx.settings.stripe ? createStripeClient(ctx.settings.stripe) : null;
      if (!stripe) throw new AppError('FEATURE_DISABLED', 'Stripe is not configured: set STRIPE_SECRET_KEY.');
      const report = await reconcileStripe(ctx.db, stripe, { at });
      await writeAudit(ctx.db, {
        actor: actorOf(ctx.principal),
        action: 'reconcileStripe',
        target: 'stripe',
        before: null,
        after: { at, ...report },
        at: now,
      });
      return report;
    },
  }),
}));
