import { decodeGlobalID } from '@pothos/plugin-relay';
import { isApiKeyId } from './repository.ts';

/** An API key id as clients send it: the global ID of `ApiKey.id`, or the raw UUID. */
export function keyIdFromInput(id: string): string | undefined {
  if (isApiKeyId(id)) return id;
  try {
    const decoded = decodeGlobalID(id);
    return decoded.typename === 'ApiKey' && isApiKeyId(decoded.id) ? decoded.id : undefined;
  } catch {
    return undefined;
  }
}
