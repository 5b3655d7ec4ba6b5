import { count } from 'drizzle-orm';
import { periodContaining } from '../core/index.ts';
import type { Db } from '../db/client.ts';
import { createOrg } from '../orgs/create-org.ts';
import { ensureUser, type OrgRow, upsertMembership } from '../orgs/repository.ts';
import { orgs } from '../orgs/tables.ts';
import { type AcceptedUsageEvent, ingestEvents } from '../usage/ingest.ts';

type DemoOrg = {
  name: string;
  slug: string;
  planCode: string;
  /** Usage for the whole current period so far, spread over its days. */
  usage: Record<string, number>;
  members: { userId: string; role: 'VIEWER' | 'MEMBER' | 'ADMIN' | 'OWNER' }[];
};

/** A few orgs on each plan; some past their included amounts (acme owes $55.00 of overage). */
const demoOrgs: DemoOrg[] = [
  {
    name: 'Hobby Hackers',
    slug: 'hobby-hackers',
    planCode: 'free',
    usage: { api_calls: 640, tokens: 21_000, playbook_runs: 2, seats: 1 },
    members: [{ userId: 'dana', role: 'OWNER' }],
  },
  {
    name: 'Tiny Startup',
    slug: 'tiny-startup',
    planCode: 'free',
    usage: { api_calls: 1_000, tokens: 48_500, playbook_runs: 5, seats: 1 },
    members: [{ userId: 'erin', role: 'OWNER' }],
  },
  {
    name: 'Acme Corp',
    slug: 'acme',
    planCode: 'pro',
    usage: { api_calls: 105_000, tokens: 750_000, playbook_runs: 75, seats: 4 },
    members: [
      { userId: 'alice', role: 'OWNER' },
      { userId: 'bob', role: 'VIEWER' },
    ],
  },
  {
    name: 'Globex',
    slug: 'globex',
    planCode: 'pro',
    usage: { api_calls: 62_000, tokens: 310_000, playbook_runs: 18, seats: 5 },
    members: [{ userId: 'carol', role: 'ADMIN' }],
  },
  {
    name: 'Initech',
    slug: 'initech',
    planCode: 'pro',
    usage: { api_calls: 131_500, tokens: 498_000, playbook_runs: 51, seats: 7 },
    members: [{ userId: 'peter', role: 'OWNER' }],
  },
  {
    name: 'Umbrella',
    slug: 'umbrella',
    planCode: 'enterprise',
    usage: { api_calls: 2_400_000, tokens: 18_000_000, playbook_runs: 900, seats: 120 },
    members: [{ userId: 'wesker', role: 'OWNER' }],
  },
];

const endpoints = ['/v1/search', '/v1/chat', '/v1/embeddings', '/v1/playbooks'];

/** Splits `total` into `parts` whole numbers that add up to it exactly. */
function split(total: number, parts: number): number[] {
  const base = Math.floor(total / parts);
  return Array.from({ length: parts }, (_, i) => base + (i < total - base * parts ? 1 : 0));
}

function usageEvents(org: OrgRow, usage: Record<string, number>, now: Date): AcceptedUsageEvent[] {
  const period = periodContaining(now, { anchorDay: org.billingAnchorDay, timeZone: org.billingTimezone });
  const hour = 3_600_000;
  const hours = Math.max(1, Math.floor((now.getTime() - period.start.getTime()) / hour));
  const slots = Math.min(hours, 24 * 8); // a few events a day over the period so far
  const events: AcceptedUsageEvent[] = [];
  for (const [metric, total] of Object.entries(usage)) {
    if (metric === 'seats') {
      events.push({
        id: `demo-${metric}`,
        org,
        metric,
        quantity: BigInt(total),
        timestamp: period.start,
        properties: null,
      });
      continue;
    }
    split(total, Math.min(slots, total)).forEach((quantity, i, all) => {
      if (quantity === 0) return;
      const at = new Date(period.start.getTime() + Math.floor(((i + 0.5) / all.length) * hours) * hour);
      events.push({
        id: `demo-${metric}-${i}`,
        org,
        metric,
        quantity: BigInt(quantity),
        timestamp: at,
        properties: { endpoint: endpoints[i % endpoints.length] },
      });
    });
  }
  return events;
}

/**
 * Loads the demo data set into an empty database (no orgs yet): orgs on every plan, members,
 * and usage spread over the current period, through the same ingestion path as real usage.
 */
export async function loadDemoData(db: Db, now: Date): Promise<{ loaded: boolean; orgs: number }> {
  const [existing] = await db.select({ n: count() }).from(orgs);
  if ((existing?.n ?? 0) > 0) return { loaded: false, orgs: existing?.n ?? 0 };
  for (const demo of demoOrgs) {
    const created = await createOrg(
      db,
      { name: demo.name, slug: demo.slug, planCode: demo.planCode },
      { actor: 'system', at: now },
    );
    if (!created.ok) continue; // another instance loaded it at the same time
    const org = created.value;
    for (const m of demo.members) {
      await ensureUser(db, m.userId);
      await upsertMembership(db, { orgId: org.id, userId: m.userId, role: m.role });
    }
    await ingestEvents(db, usageEvents(org, demo.usage, now));
  }
  return { loaded: true, orgs: demoOrgs.length };
}
