import { writeAudit } from '../audit/audit.ts';
import type { ApiKeyScope } from '../auth/principal.ts';
import type { Db } from '../db/client.ts';
import { badInput } from '../errors.ts';
import { fail, ok, type Result } from '../result.ts';
import { type ApiKeyRow, insertApiKey } from './repository.ts';
import { generateSecret } from './secret.ts';

export type CreateApiKeyParams = {
  orgId: string;
  name: string;
  scopes: readonly ApiKeyScope[];
  expiresAt?: Date | null;
  createdBy: string | null;
  now: Date;
  /** Who did it, for the audit log (`actorOf`). */
  actor: string;
};

/** A key and its secret: the only time the secret exists outside the caller's hands. */
export type KeyWithSecret = { apiKey: ApiKeyRow; secret: string };

/** Makes an API key for an org (the caller has checked the caller's role in it). */
export async function createApiKey(db: Db, params: CreateApiKeyParams): Promise<Result<KeyWithSecret>> {
  const name = params.name.trim();
  if (name.length === 0 || name.length > 100) return fail(badInput('name must be 1 to 100 characters.'));
  const scopes = [...new Set(params.scopes)];
  if (scopes.length === 0) {
    return fail(badInput('scopes must name at least one of USAGE_WRITE, USAGE_READ, BILLING_READ.'));
  }
  const expiresAt = params.expiresAt ?? null;
  if (expiresAt !== null && expiresAt <= params.now) {
    return fail(badInput('expiresAt must be in the future (or left out for a key that does not expire).'));
  }
  const { secret, prefix, hash } = generateSecret();
  const apiKey = await db.transaction(async (tx) => {
    const row = await insertApiKey(tx, {
      orgId: params.orgId,
      name,
      prefix,
      keyHash: hash,
      scopes,
      expiresAt,
      createdBy: params.createdBy,
      createdAt: params.now,
    });
    await auditKey(tx, {
      action: 'createApiKey',
      actor: params.actor,
      at: params.now,
      before: null,
      after: row,
    });
    return row;
  });
  return ok({ apiKey, secret });
}

/** Audits a key change; the row is logged without its hash (the secret never reaches any log). */
export async function auditKey(
  db: Db,
  entry: { action: string; actor: string; at: Date; before: ApiKeyRow | null; after: ApiKeyRow | null },
): Promise<void> {
  const visible = (row: ApiKeyRow | null) => {
    if (!row) return null;
    const { keyHash: _hash, ...rest } = row;
    return rest;
  };
  const key = entry.after ?? entry.before;
  await writeAudit(db, {
    actor: entry.actor,
    action: entry.action,
    target: `apiKey:${key?.id ?? 'unknown'}`,
    before: visible(entry.before),
    after: visible(entry.after),
    at: entry.at,
  });
}
