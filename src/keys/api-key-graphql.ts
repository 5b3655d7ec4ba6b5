import { actorOf } from '../audit/audit.ts';
import { builder } from '../builder.ts';
import type { Context } from '../context.ts';
import { forbidden, notFound } from '../errors.ts';
import { OrgRef, requireVisibleOrg } from '../orgs/graphql.ts';
import { ViewerRef } from '../orgs/viewer-graphql.ts';
import { unwrap } from '../result.ts';
import { createApiKey } from './create-api-key.ts';
import { keyIdFromInput } from './key-id.ts';
import { type ApiKeyRow, apiKeysByIds, apiKeysByOrgIds } from './repository.ts';
import { revokeApiKey } from './revoke-api-key.ts';
import { rotateApiKey } from './rotate-api-key.ts';

export const ApiKeyScopeEnum = builder.enumType('ApiKeyScope', {
  values: {
    USAGE_WRITE: { description: 'recordUsage, and checkQuota with consume, for its own org.' },
    USAGE_READ: { description: "Read its org's usage." },
    BILLING_READ: { description: "Read its org's overages and invoices." },
  } as const,
});

/**
 * Who may see a key: the org's OWNERs and ADMINs and platform admins (they manage keys), and the
 * key itself (Viewer.apiKey). Members below ADMIN, services and other keys may not: a key list
 * tells who can act for the org. Anyone else reads a key as null / NOT_FOUND.
 */
async function canSeeKey(ctx: Context, key: ApiKeyRow): Promise<boolean> {
  if (ctx.principal.kind === 'apiKey') return ctx.principal.keyId === key.id;
  return ctx.access.hasOrgRole(key.orgId, 'ADMIN');
}

export const ApiKeyRef = builder.loadableNodeRef('ApiKey', {
  id: { resolve: (key: ApiKeyRow) => key.id },
  load: async (ids: string[], ctx: Context) => {
    const rows = new Map((await apiKeysByIds(ctx.db, ids)).map((k) => [k.id, k]));
    return Promise.all(
      ids.map(async (id) => {
        const key = rows.get(id);
        return key && (await canSeeKey(ctx, key)) ? key : null;
      }),
    );
  },
});

ApiKeyRef.implement({
  description: 'An API key of an org. The secret is never readable: only its visible prefix.',
  isTypeOf: (value) => typeof value === 'object' && value !== null && 'keyHash' in value,
  fields: (t) => ({
    name: t.exposeString('name'),
    prefix: t.exposeString('prefix', { description: 'The start of the secret (`ml_xxxxxxxx`).' }),
    scopes: t.field({ type: [ApiKeyScopeEnum], resolve: (k) => k.scopes }),
    org: t.field({
      type: OrgRef,
      resolve: async (k, _args, ctx) => {
        const org = await ctx.loaders.org.load(k.orgId);
        if (!org) throw new Error(`API key ${k.id} of a missing org ${k.orgId}`);
        return org;
      },
    }),
    createdAt: t.field({ type: 'DateTime', resolve: (k) => k.createdAt }),
    createdBy: t.string({
      nullable: true,
      description: 'User id of its creator.',
      resolve: (k) => k.createdBy,
    }),
    lastUsedAt: t.field({
      type: 'DateTime',
      nullable: true,
      description: 'Last request made with the key; written in batches, so it may trail by a few seconds.',
      resolve: (k, _args, ctx) => {
        const pending = ctx.keys.lastUsed.pendingUse(k.id);
        return pending && (!k.lastUsedAt || pending > k.lastUsedAt) ? pending : k.lastUsedAt;
      },
    }),
    expiresAt: t.field({ type: 'DateTime', nullable: true, resolve: (k) => k.expiresAt }),
    revokedAt: t.field({ type: 'DateTime', nullable: true, resolve: (k) => k.revokedAt }),
    rotatedAt: t.field({ type: 'DateTime', nullable: true, resolve: (k) => k.rotatedAt }),
  }),
});

builder.objectFields(OrgRef, (t) => ({
  apiKeys: t.loadableGroup({
    type: ApiKeyRef,
    description: "The org's API keys, newest first, revoked ones included. OWNER / ADMIN / platform admin.",
    authScopes: (org) => ({ orgRole: { orgId: org.id, atLeast: 'ADMIN' } }),
    load: (orgIds: string[], ctx: Context) => apiKeysByOrgIds(ctx.db, orgIds),
    // Pothos types a loadable node's value as "row or id"; `load` above only ever gives rows.
    group: (key) => (key as ApiKeyRow).orgId,
    resolve: (org) => org.id,
  }),
}));

builder.objectFields(ViewerRef, (t) => ({
  apiKey: t.field({
    type: ApiKeyRef,
    nullable: true,
    description: 'The API key making this request, when the caller is one.',
    resolve: (p, _args, ctx) => (p.kind === 'apiKey' ? ApiKeyRef.getDataloader(ctx).load(p.keyId) : null),
  }),
}));

/** The key an input names, for managing it: NOT_FOUND unless its org is visible, FORBIDDEN below ADMIN. */
async function requireManagedKey(ctx: Context, idInput: string): Promise<ApiKeyRow> {
  const id = keyIdFromInput(idInput);
  const [key] = id ? await apiKeysByIds(ctx.db, [id]) : [];
  if (!key || !(await ctx.access.canReadOrg(key.orgId))) throw notFound(`API key ${JSON.stringify(idInput)}`);
  if (!(await ctx.access.hasOrgRole(key.orgId, 'ADMIN'))) {
    throw forbidden('Managing API keys needs the OWNER or ADMIN role in the org.');
  }
  return key;
}

const CreateApiKeyInput = builder.inputType('CreateApiKeyInput', {
  fields: (t) => ({
    orgId: t.id({ required: true }),
    name: t.string({ required: true, description: 'What the key is for, 1 to 100 characters.' }),
    scopes: t.field({ type: [ApiKeyScopeEnum], required: true }),
    expiresAt: t.field({ type: 'DateTime', description: 'Left out: the key does not expire.' }),
  }),
});

const KeyIdInput = (name: string) =>
  builder.inputType(name, { fields: (t) => ({ id: t.id({ required: true }) }) });

const KeyWithSecretPayload = (name: string) =>
  builder.simpleObject(name, {
    fields: (t) => ({
      apiKey: t.field({ type: ApiKeyRef }),
      secret: t.string({ description: 'The secret, shown this once: store it now. Only its hash is kept.' }),
    }),
  });

builder.mutationFields((t) => ({
  createApiKey: t.field({
    type: KeyWithSecretPayload('CreateApiKeyPayload'),
    description: 'Makes an API key for an org (OWNER / ADMIN or platform admin).',
    authScopes: { authenticated: true },
    args: { input: t.arg({ type: CreateApiKeyInput, required: true }) },
    resolve: async (_root, { input }, ctx) => {
      const org = await requireVisibleOrg(ctx, String(input.orgId));
      if (!(await ctx.access.hasOrgRole(org.id, 'ADMIN'))) {
        throw forbidden('Creating API keys needs the OWNER or ADMIN role in the org.');
      }
      const { principal } = ctx;
      const created = await createApiKey(ctx.db, {
        orgId: org.id,
        name: input.name,
        scopes: input.scopes,
        expiresAt: input.expiresAt,
        createdBy: principal.kind === 'user' ? principal.userId : null,
        now: ctx.clock(),
        actor: actorOf(principal),
      });
      return unwrap(created);
    },
  }),
  revokeApiKey: t.field({
    type: builder.simpleObject('RevokeApiKeyPayload', {
      fields: (f) => ({ apiKey: f.field({ type: ApiKeyRef }) }),
    }),
    description: 'Revokes a key: it stops working at once, on every instance.',
    authScopes: { authenticated: true },
    args: { input: t.arg({ type: KeyIdInput('RevokeApiKeyInput'), required: true }) },
    resolve: async (_root, { input }, ctx) => {
      const key = await requireManagedKey(ctx, String(input.id));
      const revoked = await revokeApiKey(ctx, {
        orgId: key.orgId,
        keyId: key.id,
        now: ctx.clock(),
        actor: actorOf(ctx.principal),
      });
      return { apiKey: unwrap(revoked) };
    },
  }),
  rotateApiKey: t.field({
    type: KeyWithSecretPayload('RotateApiKeyPayload'),
    description: 'Gives a key a new secret; the old one stops working at once.',
    authScopes: { authenticated: true },
    args: { input: t.arg({ type: KeyIdInput('RotateApiKeyInput'), required: true }) },
    resolve: async (_root, { input }, ctx) => {
      const key = await requireManagedKey(ctx, String(input.id));
      const actor = actorOf(ctx.principal);
      return unwrap(await rotateApiKey(ctx, { orgId: key.orgId, keyId: key.id, now: ctx.clock(), actor }));
    },
  }),
}));
