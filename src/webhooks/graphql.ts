import { wholeNumberFrom } from '../argument-ranges.ts';
import { builder } from '../builder.ts';
import { NO_ALLOWED_TARGETS } from '../config/allowed-targets.ts';
import type { Context } from '../context.ts';
import { forbidden, notFound } from '../errors.ts';
import { OrgRef, requireVisibleOrg } from '../orgs/graphql.ts';
import { loadOrgOwnedNodes, orgOwnedId, orgOwnedIdFromInput } from '../orgs/org-owned-node.ts';
import { unwrap } from '../result.ts';
import { createWebhookEndpoint, MAX_ENDPOINTS_PER_ORG } from './create-webhook-endpoint.ts';
import {
  deleteEndpoint,
  deliveriesOfEndpoint,
  deliveryById,
  endpointById,
  endpointsOfOrg,
  type WebhookDeliveryRow,
  type WebhookEndpointRow,
} from './repository.ts';
import { resolveWithDns, type WebhookTargetPolicy } from './target-policy.ts';

const DeliveryStatusEnum = builder.enumType('WebhookDeliveryStatus', {
  values: ['PENDING', 'DELIVERED', 'FAILED'] as const,
});

const DeliveryFailureEnum = builder.enumType('WebhookDeliveryFailure', {
  description: 'Why the last attempt failed (the delivery log never shows raw network errors).',
  values: {
    TIMEOUT: { description: 'No answer within the timeout.' },
    REFUSED: { description: 'The connection was refused.' },
    TLS: { description: 'The TLS handshake failed (certificate or protocol).' },
    DNS: { description: 'The host name did not resolve.' },
    BLOCKED_ADDRESS: {
      description: 'The endpoint resolves to a private or internal address webhooks may not reach.',
    },
    HTTP_STATUS: { description: 'The receiver answered a status other than 2xx (see lastStatusCode).' },
    NETWORK: { description: 'The connection failed otherwise (reset, unreachable).' },
  } as const,
});

/** Endpoints and their delivery log are the org's OWNERs' and ADMINs' (and platform admins'). */
const isOrgAdmin = (ctx: Context, org: { id: string }) => ctx.access.hasOrgRole(org.id, 'ADMIN');

const WebhookDeliveryRef = builder.loadableNodeRef('WebhookDelivery', {
  id: { resolve: (d: WebhookDeliveryRow) => orgOwnedId(d.orgId, d.id) },
  load: (ids: string[], ctx: Context) =>
    loadOrgOwnedNodes(ctx, ids, { allowed: isOrgAdmin, load: (c, key) => deliveryById(c.db, key) }),
});

WebhookDeliveryRef.implement({
  description: 'One event sent (or being sent) to an endpoint: the delivery log.',
  fields: (t) => ({
    event: t.exposeString('event'),
    eventId: t.exposeString('eventId'),
    status: t.field({ type: DeliveryStatusEnum, resolve: (d) => d.status }),
    attempts: t.exposeInt('attempts'),
    lastStatusCode: t.int({ nullable: true, resolve: (d) => d.lastStatusCode }),
    lastError: t.string({ nullable: true, resolve: (d) => d.lastError }),
    lastFailure: t.field({ type: DeliveryFailureEnum, nullable: true, resolve: (d) => d.lastFailure }),
    payload: t.field({ type: 'JSON', resolve: (d) => d.payload }),
    createdAt: t.field({ type: 'DateTime', resolve: (d) => d.createdAt }),
    nextAttemptAt: t.field({
      type: 'DateTime',
      nullable: true,
      resolve: (d) => (d.status === 'PENDING' ? d.nextAttemptAt : null),
    }),
    deliveredAt: t.field({ type: 'DateTime', nullable: true, resolve: (d) => d.deliveredAt }),
  }),
});

const WebhookEndpointRef = builder.loadableNodeRef('WebhookEndpoint', {
  id: { resolve: (e: WebhookEndpointRow) => orgOwnedId(e.orgId, e.id) },
  load: (ids: string[], ctx: Context) =>
    loadOrgOwnedNodes(ctx, ids, { allowed: isOrgAdmin, load: (c, key) => endpointById(c.db, key) }),
});

WebhookEndpointRef.implement({
  fields: (t) => ({
    url: t.exposeString('url'),
    events: t.exposeStringList('events'),
    createdAt: t.field({ type: 'DateTime', resolve: (e) => e.createdAt }),
    deliveries: t.field({
      type: [WebhookDeliveryRef],
      description: 'Newest first.',
      args: {
        first: t.arg.int({
          defaultValue: 20,
          validate: wholeNumberFrom(1, 200, 'first must be between 1 and 200.'),
        }),
      },
      resolve: (e, args, ctx) =>
        deliveriesOfEndpoint(ctx.db, { orgId: e.orgId, endpointId: e.id, limit: args.first ?? 20 }),
    }),
  }),
});

async function requireOrgAdmin(ctx: Context, orgIdInput: string) {
  const org = await requireVisibleOrg(ctx, orgIdInput);
  if (!(await ctx.access.hasOrgRole(org.id, 'ADMIN'))) {
    throw forbidden('Webhook endpoints need the OWNER or ADMIN role in this org.');
  }
  return org;
}

builder.objectFields(OrgRef, (t) => ({
  webhookEndpoints: t.field({
    type: [WebhookEndpointRef],
    description: "The org's outbound webhook endpoints (OWNER / ADMIN; others see none).",
    resolve: async (org, _args, ctx) =>
      (await ctx.access.hasOrgRole(org.id, 'ADMIN')) ? endpointsOfOrg(ctx.db, org.id) : [],
  }),
}));

const DEFAULT_TARGET_POLICY: WebhookTargetPolicy = {
  allowed: NO_ALLOWED_TARGETS,
  requireHttps: false,
  resolveHost: resolveWithDns,
};

const CreateWebhookEndpointInput = builder.inputType('CreateWebhookEndpointInput', {
  fields: (t) => ({
    orgId: t.id({ required: true }),
    url: t.string({ required: true }),
    events: t.stringList({ defaultValue: ['usage.alert'], description: 'Events to send: usage.alert.' }),
  }),
});

builder.mutationFields((t) => ({
  createWebhookEndpoint: t.field({
    description: `Registers an endpoint for the org's events (OWNER / ADMIN). The URL must reach a public address (https:// in production) unless the deployment allows the host in WEBHOOK_ALLOWED_TARGETS; at most ${MAX_ENDPOINTS_PER_ORG} endpoints an org.`,
    type: builder.simpleObject('CreateWebhookEndpointPayload', {
      fields: (f) => ({
        endpoint: f.field({ type: WebhookEndpointRef }),
        secret: f.string({
          description: 'The signing secret, shown once: verify `Meterline-Signature: t=...,v1=...` with it.',
        }),
      }),
    }),
    authScopes: { authenticated: true },
    args: { input: t.arg({ type: CreateWebhookEndpointInput, required: true }) },
    resolve: async (_root, { input }, ctx) => {
      const org = await requireOrgAdmin(ctx, String(input.orgId));
      return unwrap(
        await createWebhookEndpoint(ctx.db, {
          orgId: org.id,
          url: input.url,
          events: input.events ?? ['usage.alert'],
          policy: ctx.settings.webhookTargets ?? DEFAULT_TARGET_POLICY,
        }),
      );
    },
  }),
}));

const DeleteWebhookEndpointInput = builder.inputType('DeleteWebhookEndpointInput', {
  fields: (t) => ({
    orgId: t.id({ required: true }),
    endpointId: t.id({ required: true }),
  }),
});

builder.mutationFields((t) => ({
  deleteWebhookEndpoint: t.field({
    description: 'Removes an endpoint and its delivery log (OWNER / ADMIN): nothing more is sent to it.',
    type: builder.simpleObject('DeleteWebhookEndpointPayload', {
      fields: (f) => ({ deletedEndpointId: f.id() }),
    }),
    authScopes: { authenticated: true },
    args: { input: t.arg({ type: DeleteWebhookEndpointInput, required: true }) },
    resolve: async (_root, { input }, ctx) => {
      const org = await requireOrgAdmin(ctx, String(input.orgId));
      const endpoint = orgOwnedIdFromInput(String(input.endpointId), 'WebhookEndpoint');
      const ours = endpoint && (endpoint.orgId === undefined || endpoint.orgId === org.id);
      if (!endpoint || !ours || !(await deleteEndpoint(ctx.db, { orgId: org.id, id: endpoint.id }))) {
        throw notFound('Webhook endpoint');
      }
      return { deletedEndpointId: String(input.endpointId) };
    },
  }),
}));
