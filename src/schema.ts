import { builder } from './builder.ts';
import './scalars.ts';
import './plans/graphql.ts';
import './orgs/graphql.ts';
import './orgs/viewer-graphql.ts';
import './usage/graphql.ts';
import './usage/quota-graphql.ts';
import './usage/record-usage-graphql.ts';
import './billing/graphql.ts';
import './keys/graphql.ts';

/** The whole GraphQL schema: each module adds its types and fields in its graphql.ts. */
export const schema = builder.toSchema({ sortSchema: true });
