import { randomBytes } from 'node:crypto';
import type { Db } from '../db/client.ts';
import { badInput } from '../errors.ts';
import { fail, ok, type Result } from '../result.ts';
import { insertEndpoint, type WebhookEndpointRow } from './repository.ts';

/** The events an endpoint can take. */
export const WEBHOOK_EVENTS = ['usage.alert'] as const;

/**
 * Registers an org's endpoint and makes its signing secret, shown once (the caller keeps it to
 * verify the `Meterline-Signature` header).
 */
export async function createWebhookEndpoint(
  db: Db,
  params: { orgId: string; url: string; events: readonly string[] },
): Promise<Result<{ endpoint: WebhookEndpointRow; secret: string }>> {
  let url: URL;
  try {
    url = new URL(params.url);
  } catch {
    return fail(badInput(`url ${JSON.stringify(params.url)} is not a URL.`));
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    return fail(badInput('url must start with https:// (or http://).'));
  }
  const events = [...new Set(params.events)];
  const unknown = events.filter((e) => !(WEBHOOK_EVENTS as readonly string[]).includes(e));
  if (events.length === 0 || unknown.length > 0) {
    return fail(badInput(`events must be some of ${WEBHOOK_EVENTS.join(', ')}.`));
  }
  const secret = `whsec_${randomBytes(24).toString('base64url')}`;
  const endpoint = await insertEndpoint(db, { orgId: params.orgId, url: url.toString(), events, secret });
  return ok({ endpoint, secret });
}
