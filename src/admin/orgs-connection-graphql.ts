import { builder } from '../builder.ts';
import { Dec, fromMinorUnits, type Money } from '../core/index.ts';
import { MoneyRef } from '../money-graphql.ts';
import { OrgRef } from '../orgs/graphql.ts';
import type { OrgRow } from '../orgs/repository.ts';
import { keysetPage, keysetWindow } from './keyset-window.ts';
import { countOrgs, listOrgsPage, type OrgListParams } from './orgs-connection-repository.ts';
import { decodeOrgCursor, encodeOrgCursor } from './orgs-cursor.ts';

const OrgOrderFieldEnum = builder.enumType('OrgOrderField', {
  values: {
    NAME: {},
    CREATED_AT: {},
    USAGE: { description: "The period's usage of `OrgOrder.metric`." },
    REVENUE: { description: "Base price + the period's stored overage." },
  } as const,
});

const OrderDirectionEnum = builder.enumType('OrderDirection', { values: ['ASC', 'DESC'] as const });

const OrgFilter = builder.inputType('OrgFilter', {
  fields: (t) => ({
    planCode: t.string({ description: 'Only orgs on this plan.' }),
    search: t.string({ description: 'Case-insensitive part of the name or the slug.' }),
  }),
});

const OrgOrder = builder.inputType('OrgOrder', {
  fields: (t) => ({
    field: t.field({ type: OrgOrderFieldEnum, required: true }),
    direction: t.field({ type: OrderDirectionEnum, defaultValue: 'ASC' }),
    metric: t.string({
      defaultValue: 'api_calls',
      description: 'The metric of USAGE and of `OrgEdge.used`.',
    }),
  }),
});

type OrgEdgeShape = { cursor: string; node: OrgRow; used: bigint; revenue: Money };
type OrgConnectionShape = { count: () => Promise<number> };

builder.queryFields((t) => ({
  orgs: t.connection(
    {
      type: OrgRef,
      description:
        'Platform admins: every org, filtered and ordered, keyset-paginated (stable while orgs are added): first / after forward, last / before back. Default order: creation.',
      authScopes: { platformAdmin: true },
      args: {
        filter: t.arg({ type: OrgFilter }),
        orderBy: t.arg({ type: OrgOrder }),
      },
      resolve: async (_root, args, ctx) => {
        const orderBy = args.orderBy?.field ?? 'CREATED_AT';
        const window = keysetWindow(args, {
          defaultSize: 20,
          maxSize: 100,
          decode: (cursor) => decodeOrgCursor(cursor, orderBy),
        });
        const filter = { planCode: args.filter?.planCode, search: args.filter?.search };
        const params: OrgListParams = {
          at: ctx.clock(),
          ...filter,
          orderBy,
          direction: args.orderBy?.direction ?? 'ASC',
          metric: args.orderBy?.metric ?? 'api_calls',
          cursor: window.cursor,
          backward: window.backward,
          limit: window.size + 1,
        };
        const { page, hasNextPage, hasPreviousPage } = keysetPage(await listOrgsPage(ctx.db, params), window);
        const orgs = await ctx.loaders.org.loadMany(page.map((r) => r.orgId));
        const edges: OrgEdgeShape[] = page.flatMap((r, i) => {
          const node = orgs[i];
          if (!node || node instanceof Error) return [];
          const revenue = new Dec(r.basePrice).plus(fromMinorUnits(r.overageMinor, r.currency));
          return [
            {
              cursor: encodeOrgCursor(orderBy, r.sortKey, r.orgId),
              node,
              used: r.used,
              revenue: { amount: revenue, currency: r.currency },
            },
          ];
        });
        const connection: { edges: OrgEdgeShape[]; pageInfo: object } & OrgConnectionShape = {
          edges,
          pageInfo: {
            hasNextPage,
            hasPreviousPage,
            startCursor: edges[0]?.cursor ?? null,
            endCursor: edges.at(-1)?.cursor ?? null,
          },
          count: () => countOrgs(ctx.db, filter),
        };
        return connection as never;
      },
    },
    {
      name: 'OrgConnection',
      fields: (c) => ({
        totalCount: c.int({
          description: 'Orgs matching the filter.',
          resolve: (conn) => (conn as unknown as OrgConnectionShape).count(),
        }),
      }),
    },
    {
      name: 'OrgEdge',
      fields: (e) => ({
        used: e.field({
          type: 'SafeInt',
          description: "The period's usage of the order's metric (default api_calls).",
          resolve: (edge) => (edge as unknown as OrgEdgeShape).used,
        }),
        revenue: e.field({
          type: MoneyRef,
          description: "Base price + the period's stored overage (each line rounded once).",
          resolve: (edge) => (edge as unknown as OrgEdgeShape).revenue,
        }),
      }),
    },
  ),
}));
