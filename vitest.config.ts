import { defineConfig } from 'vitest/config';

export default defineConfig({
  resolve: {
    // graphql 16 ships CJS and ESM builds; Node loads the CJS one for yoga and Pothos, so the code
    // under test must get the same copy (one GraphQLError class, one GraphQLSchema realm).
    alias: [{ find: /^graphql$/, replacement: 'graphql/index.js' }],
  },
  test: {
    include: [
      'test/unit/**/*.test.ts',
      'test/integration/**/*.test.ts',
      'test/scenarios/**/*.test.ts',
      'test/soak/**/*.test.ts',
    ],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Integration suites each start their own server and database; two cores run two files at once.
    maxWorkers: 2,
  },
});
