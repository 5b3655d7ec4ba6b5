import { builder } from '../builder.ts';
import { REJECTION_CODES, type RejectionCode } from '../core/index.ts';
import { unwrap } from '../result.ts';
import { recordUsage } from './record-usage.ts';
import { assertUsageWriter } from './writers.ts';

const UsageEventInput = builder.inputType('UsageEventInput', {
  fields: (t) => ({
    id: t.string({
      required: true,
      description: 'Your idempotency key for the event (at most 128 characters).',
    }),
    orgId: t.id({ description: 'Required unless the caller is an API key (then: its own org).' }),
    metric: t.string({ required: true }),
    quantity: t.field({ type: 'SafeInt', description: 'A positive integer; default 1.' }),
    timestamp: t.field({
      type: 'DateTime',
      description: 'When it happened; default now. At most 5 minutes ahead, within the late window.',
    }),
    properties: t.field({
      type: 'JSON',
      description: 'A JSON object, at most 4 KB; `endpoint` feeds analytics.',
    }),
  }),
});

const RecordUsageInput = builder.inputType('RecordUsageInput', {
  fields: (t) => ({ events: t.field({ type: [UsageEventInput], required: true }) }),
});

const RejectedEventCode = builder.enumType('RejectedEventCode', {
  values: Object.fromEntries(
    Object.entries(REJECTION_CODES).map(([code, description]) => [code, { description }]),
  ) as { [code in RejectionCode]: { description: string } },
});

const RejectedEvent = builder.simpleObject('RejectedEvent', {
  fields: (t) => ({
    index: t.int({ description: 'Position of the event in the batch.' }),
    id: t.string({ nullable: true }),
    code: t.field({ type: RejectedEventCode, description: 'Why the event was refused.' }),
    message: t.string(),
  }),
});

const RecordUsagePayload = builder.simpleObject('RecordUsagePayload', {
  fields: (t) => ({
    accepted: t.int({ description: 'Events counted by this call.' }),
    duplicates: t.int({ description: 'Events whose id was already recorded: not counted again.' }),
    rejected: t.field({ type: [RejectedEvent], description: 'Events refused, each with a reason.' }),
  }),
});

builder.mutationFields((t) => ({
  recordUsage: t.field({
    type: RecordUsagePayload,
    description:
      'Records up to 1,000 usage events exactly once. Bad events come back in `rejected`; the good ones are kept.',
    args: { input: t.arg({ type: RecordUsageInput, required: true }) },
    resolve: async (_root, { input }, ctx) => {
      assertUsageWriter(ctx.principal);
      const events = input.events.map((e) => ({
        ...e,
        orgId: e.orgId === null || e.orgId === undefined ? null : String(e.orgId),
      }));
      const outcome = unwrap(
        await recordUsage(ctx, {
          principal: ctx.principal,
          events,
          now: ctx.clock(),
          lateWindowDays: ctx.settings.usageLateWindowDays,
          billingEnabled: ctx.settings.enableOverageBilling,
        }),
      );
      ctx.metrics.usageRecorded({ events, ...outcome });
      return { accepted: outcome.accepted, duplicates: outcome.duplicates, rejected: outcome.rejected };
    },
  }),
}));
