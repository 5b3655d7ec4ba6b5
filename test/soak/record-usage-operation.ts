import { randomUUID } from 'node:crypto';
import {
  ENDPOINTS,
  type Judging,
  type Operation,
  parse,
  pick,
  pickMetric,
  quantityOf,
  rand,
  type SoakOrg,
  weighted,
} from './operations.ts';

const RECORD_USAGE =
  'mutation ($input: RecordUsageInput!) { recordUsage(input: $input) { accepted duplicates rejected { index code } } }';

/** Bad events, each with the rejection code the contract promises for it. */
const BAD_EVENTS: readonly ((id: string, orgId: string) => { bad: string; input: object })[] = [
  (id, orgId) => ({ bad: 'UNKNOWN_METRIC', input: { id, orgId, metric: 'no_such_metric', quantity: 1 } }),
  (id, orgId) => ({ bad: 'INVALID_QUANTITY', input: { id, orgId, metric: 'api_calls', quantity: -3 } }),
  (id, orgId) => ({ bad: 'INVALID_QUANTITY', input: { id, orgId, metric: 'tokens', quantity: 0 } }),
  (id, orgId) => ({
    bad: 'INVALID_ID',
    input: { id: `${id}-`.padEnd(129, 'x'), orgId, metric: 'api_calls' },
  }),
  (_id, orgId) => ({ bad: 'INVALID_ID', input: { id: '   ', orgId, metric: 'api_calls' } }),
  (id, orgId) => ({
    bad: 'TIMESTAMP_IN_FUTURE',
    input: { id, orgId, metric: 'api_calls', timestamp: new Date(Date.now() + 3_600_000).toISOString() },
  }),
  (id, orgId) => ({
    bad: 'TIMESTAMP_TOO_OLD',
    input: {
      id,
      orgId,
      metric: 'api_calls',
      timestamp: new Date(Date.now() - 90 * 86_400_000).toISOString(),
    },
  }),
  (id, orgId) => ({ bad: 'INVALID_PROPERTIES', input: { id, orgId, metric: 'api_calls', properties: [1] } }),
  (id) => ({ bad: 'NOT_FOUND', input: { id, orgId: randomUUID(), metric: 'api_calls' } }),
];

type Planned =
  | { bad: string; input: object }
  | { org: SoakOrg; id: string; metric: string; quantity: number; input: object; copyOf?: number };

/** A batch of 1 to 250 events of 1 to 3 orgs; one batch in five carries bad events among the good. */
export function recordUsageOperation(tag: string, orgs: () => SoakOrg, j: Judging): Operation {
  const size = weighted([
    [1, 0.2],
    [5, 0.25],
    [20, 0.25],
    [100, 0.2],
    [250, 0.1],
  ] as const);
  const batchOrgs = Array.from({ length: 1 + rand(3) }, orgs);
  const withBad = Math.random() < 0.2;
  const planned: Planned[] = [];
  for (let i = 0; i < size; i++) {
    const id = `${tag}-${i}`;
    const org = pick(batchOrgs);
    if (withBad && (Math.random() < 0.1 || size === 1)) {
      planned.push(pick(BAD_EVENTS)(id, org.id));
      continue;
    }
    const metric = pickMetric();
    const quantity = quantityOf(metric);
    const stamped =
      Math.random() < 0.3 ? { timestamp: new Date(Date.now() - rand(60_000)).toISOString() } : {};
    const input = {
      id,
      orgId: org.id,
      metric,
      quantity,
      properties: { endpoint: pick(ENDPOINTS) },
      ...stamped,
    };
    planned.push({ org, id, metric, quantity, input });
  }
  // Now and then a batch repeats one of its own events: counted once, whatever happens to it.
  const goods = planned.flatMap((p, i) => ('org' in p ? [i] : []));
  if (goods.length > 0 && Math.random() < 0.1) {
    const i = pick(goods);
    const original = planned[i] as Extract<Planned, { org: SoakOrg }>;
    planned.push({ ...original, copyOf: i });
  }
  const distinct = new Set(planned.flatMap((p) => ('org' in p ? [`${p.org.id}|${p.id}`] : []))).size;
  return {
    kind: 'recordUsage',
    retryable: true,
    countable: distinct,
    shot: {
      body: JSON.stringify({
        query: RECORD_USAGE,
        variables: { input: { events: planned.map((p) => p.input) } },
      }),
    },
    judge(answer, mode) {
      type R = { accepted: number; duplicates: number; rejected: { index: number; code: string }[] };
      const parsed = parse<{ recordUsage: R }>(answer, 'recordUsage', j);
      const r = parsed?.data?.recordUsage;
      if (!r) {
        if (parsed) j.stats.problem(`recordUsage failed: ${JSON.stringify(parsed.errors).slice(0, 300)}`);
        return 0;
      }
      const codes = new Map(r.rejected.map((x) => [x.index, x.code]));
      const refused = new Set(codes.keys());
      let kept = 0;
      for (const [i, p] of planned.entries()) {
        const code = codes.get(i);
        codes.delete(i);
        if ('bad' in p) {
          if (code !== p.bad) j.stats.problem(`recordUsage: a ${p.bad} event was answered ${code ?? 'kept'}`);
          else j.stats.reject(code);
          continue;
        }
        // A repeat of an event in the same batch shares its fate: recorded once, or refused.
        if (p.copyOf !== undefined && refused.has(p.copyOf) !== (code !== undefined)) {
          j.stats.problem(
            `recordUsage: an event was ${refused.has(p.copyOf) ? 'refused' : 'kept'} and its repeat in the batch ${code ?? 'kept'}`,
          );
          continue;
        }
        if (code === undefined) {
          kept++;
          j.model.acknowledge(p.org.id, p.id, p.metric, BigInt(p.quantity));
        } else if (code === 'HARD_LIMIT' && j.hardLimit(p.org.plan, p.metric) !== null) {
          j.stats.reject(code);
        } else {
          j.stats.problem(`recordUsage: a good ${p.org.plan} event was refused: ${code}`);
        }
      }
      if (codes.size > 0)
        j.stats.problem(`recordUsage: rejections at indexes never sent: ${[...codes.keys()]}`);
      if (r.accepted + r.duplicates !== kept) {
        j.stats.problem(
          `recordUsage: ${r.accepted} accepted + ${r.duplicates} duplicates, ${kept} events kept`,
        );
      }
      if (mode === 'retry' && r.accepted !== 0)
        j.stats.problem(`recordUsage retry accepted ${r.accepted} again`);
      j.stats.events.sent += planned.length;
      j.stats.events.accepted += r.accepted;
      j.stats.events.duplicates += r.duplicates;
      j.model.counted += r.accepted;
      return r.accepted;
    },
  };
}
