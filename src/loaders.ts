/**
 * The per-request loaders live in usage/loaders.ts (they read usage counters, so they sit in usage/
 * above orgs/ and plans/). This entry remains only for the files of usage/ and billing/ that still
 * import it from here; once they import usage/loaders.ts it goes, and with it the usage/ <->
 * loaders.ts cycle.
 */
export { createLoaders, type Loaders } from './usage/loaders.ts';
