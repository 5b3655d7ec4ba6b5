import { actorOf } from '../audit/audit.ts';
import { builder } from '../builder.ts';
import type { Context } from '../context.ts';
import { periodContaining } from '../core/index.ts';
import { forbidden, notFound } from '../errors.ts';
import { PlanRef } from '../plans/graphql.ts';
import { unwrap } from '../result.ts';
import { addMember } from './add-member.ts';
import { changePlan } from './change-plan.ts';
import { createOrg } from './create-org.ts';
import { orgIdFromInput } from './org-id.ts';
import { removeMember } from './remove-member.ts';
import { type MembershipRow, type OrgRow, orgBySlug } from './repository.ts';

export const OrgRoleEnum = builder.enumType('OrgRole', {
  values: ['VIEWER', 'MEMBER', 'ADMIN', 'OWNER'] as const,
});

/** Loads orgs the caller may see; any other org reads as null (never FORBIDDEN). */
export async function loadVisibleOrg(ctx: Context, orgId: string): Promise<OrgRow | null> {
  const org = await ctx.loaders.org.load(orgId);
  return org && (await ctx.access.canReadOrg(org.id)) ? org : null;
}

/** The org an input names, if the caller may see it; otherwise NOT_FOUND. */
export async function requireVisibleOrg(ctx: Context, orgIdInput: string): Promise<OrgRow> {
  const orgId = orgIdFromInput(orgIdInput);
  const org = orgId ? await loadVisibleOrg(ctx, orgId) : null;
  if (!org) throw notFound(`Org ${JSON.stringify(orgIdInput)}`);
  return org;
}

export const OrgRef = builder.loadableNodeRef('Org', {
  id: { resolve: (org: OrgRow) => org.id },
  load: (ids: string[], ctx: Context) => Promise.all(ids.map((id) => loadVisibleOrg(ctx, id))),
});

export const BillingPeriodRef = builder.objectRef<{ start: Date; end: Date }>('BillingPeriod').implement({
  description: 'A billing period, half-open: it contains `start` and ends just before `end`.',
  fields: (t) => ({
    start: t.field({ type: 'DateTime', resolve: (p) => p.start }),
    end: t.field({ type: 'DateTime', resolve: (p) => p.end }),
  }),
});

export const anchorOf = (org: OrgRow) => ({ anchorDay: org.billingAnchorDay, timeZone: org.billingTimezone });

OrgRef.implement({
  isTypeOf: (value) => typeof value === 'object' && value !== null && 'slug' in value && 'planId' in value,
  fields: (t) => ({
    name: t.exposeString('name'),
    slug: t.exposeString('slug'),
    plan: t.field({
      type: PlanRef,
      resolve: async (org, _args, ctx) => {
        const plan = await ctx.loaders.plan.load(org.planId);
        if (!plan) throw new Error(`Org ${org.id} has no plan ${org.planId}`);
        return plan;
      },
    }),
    billingAnchorDay: t.exposeInt('billingAnchorDay'),
    billingTimezone: t.exposeString('billingTimezone'),
    createdAt: t.field({ type: 'DateTime', resolve: (org) => org.createdAt }),
    currentPeriod: t.field({
      type: BillingPeriodRef,
      resolve: (org, _args, ctx) => periodContaining(ctx.clock(), anchorOf(org)),
    }),
    members: t.field({
      authScopes: { orgData: 'members' },
      type: [MembershipRef],
      resolve: (org, _args, ctx) => ctx.loaders.membershipsByOrg.load(org.id),
    }),
  }),
});

export const MembershipRef = builder.objectRef<MembershipRow>('Membership').implement({
  fields: (t) => ({
    org: t.field({
      type: OrgRef,
      resolve: async (m, _args, ctx) => {
        const org = await ctx.loaders.org.load(m.orgId);
        if (!org) throw new Error(`Membership of a missing org ${m.orgId}`);
        return org;
      },
    }),
    userId: t.exposeString('userId'),
    role: t.expose('role', { type: OrgRoleEnum }),
  }),
});

builder.queryFields((t) => ({
  org: t.field({
    type: OrgRef,
    nullable: true,
    description: 'An org by id (global or raw) or slug; null for an org the caller may not see.',
    args: { id: t.arg.id(), slug: t.arg.string() },
    resolve: async (_root, args, ctx) => {
      if (args.id) {
        const orgId = orgIdFromInput(String(args.id));
        return orgId ? loadVisibleOrg(ctx, orgId) : null;
      }
      if (args.slug) {
        const org = await orgBySlug(ctx.db, args.slug);
        return org && (await ctx.access.canReadOrg(org.id)) ? org : null;
      }
      return null;
    },
  }),
}));

const CreateOrgInput = builder.inputType('CreateOrgInput', {
  fields: (t) => ({
    name: t.string({ required: true }),
    slug: t.string({ required: true }),
    planCode: t.string({ required: true }),
    billingAnchorDay: t.int({
      description:
        'Day of the month (1-31) each period starts; a month without that day starts on its last day (31: Jan 31, Feb 28 or 29, Mar 31, Apr 30). Default 1.',
    }),
    billingTimezone: t.string({ description: 'IANA time zone of the billing periods; default UTC.' }),
    ownerUserId: t.string({ description: 'Makes this user the OWNER of the new org.' }),
  }),
});

const ChangePlanInput = builder.inputType('ChangePlanInput', {
  fields: (t) => ({
    orgId: t.id({ required: true }),
    planCode: t.string({ required: true }),
  }),
});

const AddMemberInput = builder.inputType('AddMemberInput', {
  fields: (t) => ({
    orgId: t.id({ required: true }),
    userId: t.string({ required: true }),
    role: t.field({ type: OrgRoleEnum, required: true }),
  }),
});

const RemoveMemberInput = builder.inputType('RemoveMemberInput', {
  fields: (t) => ({
    orgId: t.id({ required: true }),
    userId: t.string({ required: true }),
  }),
});

const OrgPayload = (name: string) =>
  builder.simpleObject(name, { fields: (t) => ({ org: t.field({ type: OrgRef }) }) });

builder.mutationFields((t) => ({
  createOrg: t.field({
    type: OrgPayload('CreateOrgPayload'),
    authScopes: { platformAdmin: true },
    args: { input: t.arg({ type: CreateOrgInput, required: true }) },
    resolve: async (_root, { input }, ctx) => ({
      org: unwrap(await createOrg(ctx.db, input, { actor: actorOf(ctx.principal), at: ctx.clock() })),
    }),
  }),
  changePlan: t.field({
    type: OrgPayload('ChangePlanPayload'),
    authScopes: { platformAdmin: true },
    args: { input: t.arg({ type: ChangePlanInput, required: true }) },
    resolve: async (_root, { input }, ctx) => {
      const org = await requireVisibleOrg(ctx, String(input.orgId));
      const audit = { actor: actorOf(ctx.principal), at: ctx.clock() };
      const changed = unwrap(await changePlan(ctx, { orgId: org.id, planCode: input.planCode }, audit));
      return { org: changed };
    },
  }),
  addMember: t.field({
    type: builder.simpleObject('AddMemberPayload', {
      fields: (f) => ({ membership: f.field({ type: MembershipRef }) }),
    }),
    authScopes: { authenticated: true },
    description:
      "Adds a member or changes a member's role (OWNER or ADMIN of the org, audited). Only an OWNER (or a platform admin) grants, changes or removes OWNER and ADMIN; the org keeps at least one OWNER.",
    args: { input: t.arg({ type: AddMemberInput, required: true }) },
    resolve: async (_root, { input }, ctx) => {
      const org = await requireVisibleOrg(ctx, String(input.orgId));
      if (!(await ctx.access.hasOrgRole(org.id, 'ADMIN'))) {
        throw forbidden('Adding members needs the OWNER or ADMIN role in this org.');
      }
      return {
        membership: unwrap(await addMember(ctx, { orgId: org.id, userId: input.userId, role: input.role })),
      };
    },
  }),
  removeMember: t.field({
    type: builder.simpleObject('RemoveMemberPayload', {
      fields: (f) => ({
        org: f.field({ type: OrgRef }),
        membership: f.field({ type: MembershipRef, description: 'The membership removed, as it was.' }),
      }),
    }),
    authScopes: { authenticated: true },
    description:
      'Removes a member from an org (OWNER or ADMIN of the org, audited). Only an OWNER (or a platform admin) removes an OWNER or ADMIN; the last OWNER cannot be removed.',
    args: { input: t.arg({ type: RemoveMemberInput, required: true }) },
    resolve: async (_root, { input }, ctx) => {
      const org = await requireVisibleOrg(ctx, String(input.orgId));
      if (!(await ctx.access.hasOrgRole(org.id, 'ADMIN'))) {
        throw forbidden('Removing members needs the OWNER or ADMIN role in this org.');
      }
      const membership = unwrap(await removeMember(ctx, { orgId: org.id, userId: input.userId }));
      return { org, membership };
    },
  }),
}));
