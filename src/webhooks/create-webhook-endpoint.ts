import { randomBytes } from 'node:crypto';
import { isIP } from 'node:net';
import type { Db } from '../db/client.ts';
import { badInput, notFound } from '../errors.ts';
import { lockOrg } from '../orgs/admin-repository.ts';
import { fail, ok, type Result } from '../result.ts';
import { countEndpointsOfOrg, insertEndpoint, type WebhookEndpointRow } from './repository.ts';
import { hostOf, resolvedRefusal, urlRefusal, type WebhookTargetPolicy } from './target-policy.ts';

/** The events an endpoint can take. */
export const WEBHOOK_EVENTS = ['usage.alert'] as const;

/** An org's endpoints at most: each one is sent every event it takes. */
export const MAX_ENDPOINTS_PER_ORG = 10;

/**
 * Registers an org's endpoint and makes its signing secret, shown once (the caller keeps it to
 * verify the `Meterline-Signature` header). The URL must reach a public address: an address
 * literal or `localhost` is judged as written, a host name by what it resolves to now (and again
 * at every delivery, since a name can be re-pointed later).
 */
export async function createWebhookEndpoint(
  db: Db,
  params: { orgId: string; url: string; events: readonly string[]; policy: WebhookTargetPolicy },
): Promise<Result<{ endpoint: WebhookEndpointRow; secret: string }>> {
  let url: URL;
  try {
    url = new URL(params.url);
  } catch {
    return fail(badInput(`url ${JSON.stringify(params.url)} is not a URL.`));
  }
  const refusal = urlRefusal(url, params.policy);
  if (refusal) return fail(badInput(refusal));
  const events = [...new Set(params.events)];
  const unknown = events.filter((e) => !(WEBHOOK_EVENTS as readonly string[]).includes(e));
  if (events.length === 0 || unknown.length > 0) {
    return fail(badInput(`events must be some of ${WEBHOOK_EVENTS.join(', ')}.`));
  }
  const host = hostOf(url);
  if (!isIP(host) && !params.policy.allowed.hosts.has(host)) {
    // A name that does not resolve yet is accepted: deliveries check it when they resolve it.
    const resolved = await resolvedRefusal(host, params.policy).catch(() => undefined);
    if (resolved?.reason) {
      return fail(badInput(`url's host resolves to ${resolved.reason}, which webhooks may not reach.`));
    }
  }
  const secret = `whsec_${randomBytes(24).toString('base64url')}`;
  return db.transaction(async (tx) => {
    // The org row is locked so two concurrent creations cannot both pass the count.
    if (!(await lockOrg(tx, params.orgId))) return fail(notFound('Org'));
    if ((await countEndpointsOfOrg(tx, params.orgId)) >= MAX_ENDPOINTS_PER_ORG) {
      return fail(badInput(`An org has at most ${MAX_ENDPOINTS_PER_ORG} webhook endpoints.`));
    }
    const endpoint = await insertEndpoint(tx, { orgId: params.orgId, url: url.toString(), events, secret });
    return ok({ endpoint, secret });
  });
}
