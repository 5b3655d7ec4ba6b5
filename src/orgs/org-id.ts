import { decodeGlobalID } from '@pothos/plugin-relay';
import { isOrgId } from './repository.ts';

/**
 * An org id as clients send it: the global ID of `Org.id`, or the raw UUID. Anything else is
 * answered as "not found" by the caller (it can match no org).
 */
export function orgIdFromInput(id: string): string | undefined {
  if (isOrgId(id)) return id;
  try {
    const decoded = decodeGlobalID(id);
    return decoded.typename === 'Org' && isOrgId(decoded.id) ? decoded.id : undefined;
  } catch {
    return undefined;
  }
}
