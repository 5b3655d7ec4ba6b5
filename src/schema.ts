import { builder } from './builder.ts';
import './scalars.ts';
import './money-graphql.ts';
import './plans/graphql.ts';
import './orgs/graphql.ts';
import './orgs/viewer-graphql.ts';
import './usage/graphql.ts';
import './usage/quota-graphql.ts';
import './usage/record-usage-graphql.ts';
import './billing/graphql.ts';
import './keys/graphql.ts';
import './admin/audit-graphql.ts';
import './plans/admin-graphql.ts';
import './orgs/admin-graphql.ts';
import './billing/budget-alert-graphql.ts';
import './billing/billing-run-graphql.ts';
import './billing/settings-graphql.ts';
import './stripe/graphql.ts';
import './live/graphql.ts';
import './admin/overview-graphql.ts';
import './admin/orgs-connection-graphql.ts';
import './analytics/graphql.ts';
import './analytics/usage-totals-graphql.ts';
import './alerts/graphql.ts';
import './webhooks/graphql.ts';

/** The whole GraphQL schema: each module adds its types and fields in its graphql.ts. */
export const schema = builder.toSchema({ sortSchema: true });
