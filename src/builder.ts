import SchemaBuilder from '@pothos/core';
import DataloaderPlugin from '@pothos/plugin-dataloader';
import RelayPlugin from '@pothos/plugin-relay';
import ScopeAuthPlugin from '@pothos/plugin-scope-auth';
import SimpleObjectsPlugin from '@pothos/plugin-simple-objects';
import ValidationPlugin from '@pothos/plugin-validation';
import type { Decimal } from 'decimal.js';
import { mayReadOrgData, type OrgDataPart } from './auth/org-data.ts';
import type { ApiKeyScope } from './auth/principal.ts';
import type { OrgRole } from './auth/roles.ts';
import type { Context } from './context.ts';
import { AppError, forbidden, unauthenticated } from './errors.ts';

/**
 * The one Pothos builder: context, auth scopes, scalars and plugins. No types are defined here;
 * each domain module adds its own in its graphql.ts.
 */
export const builder = new SchemaBuilder<{
  Context: Context;
  DefaultFieldNullability: false;
  DefaultInputFieldRequiredness: false;
  Scalars: {
    DateTime: { Input: Date; Output: Date };
    Decimal: { Input: Decimal; Output: Decimal };
    SafeInt: { Input: bigint; Output: bigint | number };
    JSON: { Input: unknown; Output: unknown };
  };
  AuthScopes: {
    authenticated: boolean;
    platformAdmin: boolean;
    service: boolean;
    /** A member of the org with at least the given role (platform admins pass). */
    orgRole: { orgId: string; atLeast: OrgRole };
    /** An API key holding this scope (it acts in its own org only). */
    apiKeyScope: ApiKeyScope;
    /** Reading a part of an org the caller can see (mayReadOrgData). */
    orgData: OrgDataPart;
  };
}>({
  defaultFieldNullability: false,
  plugins: [ScopeAuthPlugin, SimpleObjectsPlugin, RelayPlugin, DataloaderPlugin, ValidationPlugin],
  relay: {
    clientMutationId: 'omit',
    cursorType: 'String',
    nodesQueryOptions: false,
  },
  scopeAuth: {
    authorizeOnSubscribe: true,
    authScopes: (ctx) => ({
      authenticated: ctx.principal.kind !== 'anonymous',
      platformAdmin: ctx.principal.kind === 'user' && ctx.principal.isPlatformAdmin,
      service: ctx.principal.kind === 'service',
      orgRole: ({ orgId, atLeast }) => ctx.access.hasOrgRole(orgId, atLeast),
      apiKeyScope: (scope) => ctx.principal.kind === 'apiKey' && ctx.principal.scopes.includes(scope),
      orgData: (part) => mayReadOrgData(ctx.principal, part),
    }),
    unauthorizedError: (_parent, ctx) => {
      if (ctx.principal.kind === 'anonymous') return unauthenticated();
      if (ctx.principal.kind === 'apiKey') {
        return forbidden(
          "This API key's scopes do not allow this: USAGE_READ reads usage, BILLING_READ reads overages and invoices, USAGE_WRITE records usage.",
        );
      }
      return forbidden('You are not allowed to do this: it needs a platform admin or a higher org role.');
    },
  },
  validation: {
    validationError: (result) =>
      new AppError(
        'BAD_USER_INPUT',
        result.issues
          .map((i) => {
            const keys = (i.path ?? []).map((p) =>
              String(typeof p === 'object' && p !== null && 'key' in p ? p.key : p),
            );
            // A message that names its argument ("first must be ...") is shown as it is.
            if (keys.length > 0 && i.message.startsWith(`${keys.at(-1)} `)) return i.message;
            return keys.length > 0 ? `${keys.join('.')}: ${i.message}` : i.message;
          })
          .join('; '),
      ),
  },
});

builder.queryType({});
builder.mutationType({});
builder.subscriptionType({});
