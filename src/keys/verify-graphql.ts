import { builder } from '../builder.ts';
import { OrgRef } from '../orgs/graphql.ts';
import { unwrap } from '../result.ts';
import { QuotaDecisionRef } from '../usage/quota-graphql.ts';
import { ApiKeyScopeEnum } from './api-key-graphql.ts';
import type { RateLimitState } from './rate-limit.ts';
import { verifyApiKey } from './verify-api-key.ts';

export const RateLimitStateRef = builder.objectRef<RateLimitState>('RateLimitState').implement({
  description:
    "The request rate of the key's org (all its keys together) in the current one-minute window, after counting this request.",
  fields: (t) => ({
    limit: t.exposeInt('limit', { description: "Requests a minute (the plan's rateLimitPerMinute)." }),
    remaining: t.exposeInt('remaining'),
    resetAt: t.field({ type: 'DateTime', resolve: (s) => s.resetAt }),
    resetAfter: t.exposeInt('resetAfter', {
      description: 'Seconds until resetAt (for Retry-After / X-RateLimit-Reset, free of clock skew).',
    }),
  }),
});

const VerifyApiKeyInput = builder.inputType('VerifyApiKeyInput', {
  fields: (t) => ({
    key: t.string({ required: true, description: "The end customer's API key (`ml_...`)." }),
    cost: t.field({
      type: 'SafeInt',
      defaultValue: 1n,
      description: 'api_calls this request is worth, counted when allowed; default 1.',
    }),
    idempotencyKey: t.string({
      description:
        'Makes the api_calls consumption count once across retries of the same request. A key that already recorded another cost is BAD_USER_INPUT.',
    }),
  }),
});

const VerifyApiKeyPayloadRef = builder.simpleObject('VerifyApiKeyPayload', {
  fields: (t) => ({
    valid: t.boolean(),
    code: t.string({
      description: 'VALID, NOT_FOUND, REVOKED, EXPIRED, RATE_LIMITED or QUOTA_EXCEEDED.',
    }),
    org: t.field({ type: OrgRef, nullable: true }),
    scopes: t.field({ type: [ApiKeyScopeEnum] }),
    rateLimit: t.field({
      type: RateLimitStateRef,
      nullable: true,
      description: 'Null when the key is not valid or its plan has no request-rate limit.',
    }),
    quota: t.field({
      type: QuotaDecisionRef,
      nullable: true,
      description: 'The api_calls decision; null when an earlier check already refused the call.',
    }),
  }),
});

builder.mutationFields((t) => ({
  verifyApiKey: t.field({
    type: VerifyApiKeyPayloadRef,
    description:
      "For the SaaS's gateway (service token or platform admin): authenticates an end customer's key, " +
      "applies its plan's request rate (one request per call) and the monthly api_calls quota, and " +
      'counts `cost` api_calls when allowed. Refusals are answers (`valid: false` and a code), not errors.',
    authScopes: { service: true, platformAdmin: true },
    args: { input: t.arg({ type: VerifyApiKeyInput, required: true }) },
    resolve: async (_root, { input }, ctx) => {
      const payload = unwrap(
        await verifyApiKey(
          {
            db: ctx.db,
            keys: ctx.keys,
            consumptions: ctx.consumptions,
            billingEnabled: ctx.settings.enableOverageBilling,
          },
          { key: input.key, cost: input.cost ?? 1n, idempotencyKey: input.idempotencyKey, now: ctx.clock() },
        ),
      );
      if (payload.code === 'RATE_LIMITED') ctx.metrics.rateLimited('verifyApiKey');
      if (payload.quota) {
        const { metric, reason, allowed } = payload.quota;
        ctx.metrics.quotaDecided({ metric: metric.key, reason, allowed, consume: true });
      }
      return payload;
    },
  }),
}));
