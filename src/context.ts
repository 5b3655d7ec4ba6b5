import type { Logger } from 'pino';
import type { Principal } from './auth/principal.ts';
import { type OrgRole, roleAtLeast } from './auth/roles.ts';
import type { Clock } from './clock.ts';
import type { Db } from './db/client.ts';
import type { EventPublisher } from './events/domain-events.ts';
import type { KeyServices } from './keys/services.ts';
import type { CredentialCheck } from './live/credentials.ts';
import type { LiveServices } from './live/live-services.ts';
import type { ServiceMetrics } from './observability/index.ts';
import type { StripeSettings } from './stripe/client.ts';
import type { ConsumptionQueue } from './usage/consumption-queue.ts';
import { createLoaders, type Loaders } from './usage/loaders.ts';
import type { WebhookTargetPolicy } from './webhooks/target-policy.ts';

/** Settings a request needs (a subset of Config, so tests can build contexts cheaply). */
export type RequestSettings = {
  enableOverageBilling: boolean;
  /** Oldest accepted usage event, in days before now. */
  usageLateWindowDays: number;
  /** STRIPE_SECRET_KEY is set: the outbox worker sends invoice items (else they stay PENDING). */
  stripeConfigured?: boolean;
  /** BILLING_CRON: when period close and invoicing run (UTC). */
  billingSchedule?: string;
  /** Stripe credentials for admin operations that call Stripe (reconciliation). */
  stripe?: StripeSettings;
  /** Where webhook endpoints may point (unset: public addresses only, http allowed). */
  webhookTargets?: WebhookTargetPolicy;
};

export type Context = {
  principal: Principal;
  /** The credential the principal came from, checked again by what outlives one operation. */
  credential?: CredentialCheck;
  db: Db;
  clock: Clock;
  loaders: Loaders;
  access: Access;
  settings: RequestSettings;
  requestId: string;
  log: Logger;
  /** The process-wide API-key services: request-rate limiter and last-use tracker. */
  keys: KeyServices;
  /** Live usage: an org's feed to subscribe to, access changes heard from any instance. */
  live: LiveServices;
  /** Publishes what a committed change means (use cases do, through `afterCommit`). */
  events: EventPublisher;
  /** Quota consumptions of this instance, decided in batches (group commit). */
  consumptions: ConsumptionQueue;
  /** Counters for /metrics (events recorded, quota decisions, rate-limit refusals). */
  metrics: ServiceMetrics;
};

/**
 * What the caller may see and do in an org. Memberships of a user are read once per request.
 * Another org's data is answered as null / NOT_FOUND, never FORBIDDEN.
 */
export type Access = {
  canReadOrg(orgId: string): Promise<boolean>;
  hasOrgRole(orgId: string, atLeast: OrgRole): Promise<boolean>;
};

export function createAccess(principal: Principal, loaders: Loaders): Access {
  const roleIn = async (orgId: string): Promise<OrgRole | undefined> => {
    if (principal.kind !== 'user') return undefined;
    const memberships = await loaders.membershipsByUser.load(principal.userId);
    return memberships.find((m) => m.orgId === orgId)?.role;
  };
  return {
    async canReadOrg(orgId) {
      switch (principal.kind) {
        case 'anonymous':
          return false;
        case 'service':
          return true;
        case 'apiKey':
          return principal.orgId === orgId;
        case 'user':
          return principal.isPlatformAdmin || (await roleIn(orgId)) !== undefined;
      }
    },
    async hasOrgRole(orgId, atLeast) {
      if (principal.kind !== 'user') return false;
      if (principal.isPlatformAdmin) return true;
      const role = await roleIn(orgId);
      return role !== undefined && roleAtLeast(role, atLeast);
    },
  };
}

export type ContextInput = {
  principal: Principal;
  credential?: CredentialCheck;
  db: Db;
  clock: Clock;
  settings: RequestSettings;
  requestId: string;
  log: Logger;
  keys: KeyServices;
  live: LiveServices;
  events: EventPublisher;
  consumptions: ConsumptionQueue;
  metrics: ServiceMetrics;
};

export function createContext(input: ContextInput): Context {
  const loaders = createLoaders(input.db);
  return { ...input, loaders, access: createAccess(input.principal, loaders) };
}
