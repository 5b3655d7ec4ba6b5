import { builder } from '../builder.ts';
import { periodContaining } from '../core/index.ts';
import { BudgetCapRef } from '../orgs/admin-graphql.ts';
import { anchorOf } from '../orgs/graphql.ts';
import { budgetAlertOf } from '../usage/budget.ts';

// An org's budget cap is set in orgs/; whether the period passed it is billing's record, so the
// field is added here and orgs/ needs nothing from billing/.
builder.objectField(BudgetCapRef, 'alertedAt', (t) =>
  t.field({
    type: 'DateTime',
    nullable: true,
    description: 'When the current period passed the cap (ALERT caps; once per period).',
    resolve: async ({ org }, _args, ctx) => {
      const period = periodContaining(ctx.clock(), anchorOf(org));
      return (await budgetAlertOf(ctx.db, { orgId: org.id, periodStart: period.start }))?.firedAt ?? null;
    },
  }),
);
