import type { Principal } from '../auth/principal.ts';
import { forbidden, unauthenticated } from '../errors.ts';

/**
 * Who may write usage (recordUsage, consuming checkQuota): the SaaS's backend services,
 * platform admins, and an org's API keys with USAGE_WRITE (for their own org only).
 */
export function assertUsageWriter(principal: Principal): void {
  if (principal.kind === 'anonymous') throw unauthenticated();
  if (principal.kind === 'service') return;
  if (principal.kind === 'user' && principal.isPlatformAdmin) return;
  if (principal.kind === 'apiKey' && principal.scopes.includes('USAGE_WRITE')) return;
  throw forbidden(
    principal.kind === 'apiKey'
      ? 'This API key lacks the USAGE_WRITE scope.'
      : 'Recording usage needs a service token, an API key with USAGE_WRITE, or a platform admin.',
  );
}
