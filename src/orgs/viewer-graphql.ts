import type { Principal } from '../auth/principal.ts';
import { builder } from '../builder.ts';
import { MembershipRef } from './graphql.ts';

export const ViewerRef = builder.objectRef<Principal>('Viewer').implement({
  description: 'Who is calling: a user (with their memberships), an API key, a service or nobody.',
  fields: (t) => ({
    userId: t.string({ nullable: true, resolve: (p) => (p.kind === 'user' ? p.userId : null) }),
    isPlatformAdmin: t.boolean({ resolve: (p) => p.kind === 'user' && p.isPlatformAdmin }),
    isService: t.boolean({ resolve: (p) => p.kind === 'service' }),
    memberships: t.field({
      type: [MembershipRef],
      resolve: (p, _args, ctx) => (p.kind === 'user' ? ctx.loaders.membershipsByUser.load(p.userId) : []),
    }),
  }),
});

builder.queryFields((t) => ({
  viewer: t.field({ type: ViewerRef, resolve: (_root, _args, ctx) => ctx.principal }),
}));
