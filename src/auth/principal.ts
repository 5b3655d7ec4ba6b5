/** Who is calling. Resolved once per request from the Authorization header (or WebSocket params). */
export type Principal =
  | { kind: 'anonymous' }
  | { kind: 'user'; userId: string; isPlatformAdmin: boolean }
  /** One of the SaaS's own backend services (SERVICE_TOKEN). */
  | { kind: 'service' }
  | { kind: 'apiKey'; orgId: string; keyId: string; scopes: ApiKeyScope[] };

export type ApiKeyScope = 'USAGE_WRITE' | 'USAGE_READ' | 'BILLING_READ';

export const anonymous: Principal = { kind: 'anonymous' };

export function isPlatformAdmin(p: Principal): boolean {
  return p.kind === 'user' && p.isPlatformAdmin;
}
