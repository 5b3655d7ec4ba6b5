import { builder } from '../builder.ts';

builder.queryFields((t) => ({
  billingSettings: t.field({
    type: builder.simpleObject('BillingSettings', {
      description: 'How billing is configured on this deployment (platform admin).',
      fields: (f) => ({
        overageBillingEnabled: f.boolean({
          description:
            'ENABLE_OVERAGE_BILLING: false means overage amounts read as zero and nothing is invoiced.',
        }),
        stripeConfigured: f.boolean({
          description:
            'STRIPE_SECRET_KEY is set; without it invoice items stay PENDING until one is configured.',
        }),
        schedule: f.string({ description: 'BILLING_CRON: when period close and invoicing run (UTC).' }),
      }),
    }),
    authScopes: { platformAdmin: true },
    resolve: (_root, _args, ctx) => ({
      overageBillingEnabled: ctx.settings.enableOverageBilling,
      stripeConfigured: ctx.settings.stripeConfigured ?? false,
      schedule: ctx.settings.billingSchedule ?? '0 2 * * *',
    }),
  }),
}));
