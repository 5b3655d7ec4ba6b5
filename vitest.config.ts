import { defineConfig } from 'vitest/config';

/**
 * The suites `npm test` leaves to `npm run test:slow` (CI runs both): child processes killed and
 * restarted, long fuzz and soak runs, packing and installing the client, and the browser. Each is
 * a minute or more on two cores, and none is where a rule is decided: the rules' own tests, the
 * contract, authorization and the HTTP suites stay in `npm test`.
 */
const SLOW = [
  'test/integration/faults-*.test.ts',
  'test/integration/fuzz-*.test.ts',
  'test/integration/ingest-crash.test.ts',
  'test/integration/db-connection-loss.test.ts',
  'test/integration/embedded-database.test.ts',
  'test/integration/live-instances.test.ts',
  'test/integration/client-package.test.ts',
  'test/integration/client-shutdown.test.ts',
  'test/integration/production-start.test.ts',
  'test/integration/startup-port.test.ts',
  'test/integration/tokens-cli.test.ts',
  'test/integration/live-dashboard.test.ts',
  'test/integration/dashboard-page.test.ts',
  'test/integration/graphiql.test.ts',
  'test/soak/**/*.test.ts',
];

export default defineConfig({
  resolve: {
    // graphql 16 ships CJS and ESM builds; Node loads the CJS one for yoga and Pothos, so the code
    // under test must get the same copy (one GraphQLError class, one GraphQLSchema realm).
    alias: [{ find: /^graphql$/, replacement: 'graphql/index.js' }],
  },
  test: {
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Integration suites each start their own server and database; two cores run two files at once.
    maxWorkers: 2,
    projects: [
      {
        extends: true,
        test: {
          name: 'fast',
          include: ['test/unit/**/*.test.ts', 'test/integration/**/*.test.ts', 'test/scenarios/**/*.test.ts'],
          exclude: SLOW,
          // One module graph per worker instead of one per file: the server's code and PGlite's
          // WebAssembly load once, which halves the run (each suite still starts its own server
          // and database, and nothing here keeps state in a module between suites).
          isolate: false,
        },
      },
      { extends: true, test: { name: 'slow', include: SLOW } },
    ],
  },
});
