import type { Sql } from 'postgres';
import { TransactionConnection } from './connection-loss.ts';

/**
 * The postgres.js client as drizzle should use it: every statement prepared. Drizzle asks
 * postgres.js not to prepare its statements, and postgres.js then sends each statement that has
 * parameters in two round trips (describe the parameters, wait, then execute), which also stops
 * it pipelining the statements that follow. Prepared, a statement is described once per
 * connection and then sent in one round trip, pipelined with its neighbours. postgres.js keeps a
 * connection's prepared statements until the connection is recycled (`max_lifetime`), so the
 * number of distinct statement texts bounds their memory.
 * Transactions and savepoints hand out their own clients: those are wrapped too, and follow
 * their connection so that nothing is sent on it once it is lost (see TransactionConnection).
 */
export function preparingStatements(sql: Sql, connection?: TransactionConnection): Sql {
  return new Proxy(sql, {
    get(target, property, receiver) {
      switch (property) {
        case 'unsafe':
          return (query: string, args?: unknown[], options?: object) =>
            connection?.lost
              ? connection.refused()
              : target.unsafe(query, args as never, { ...options, prepare: true });
        case 'begin':
        case 'savepoint':
          return (...args: unknown[]) => {
            const body = args.pop() as (client: Sql) => unknown;
            const method = Reflect.get(target, property, receiver) as (...a: unknown[]) => Promise<unknown>;
            // A savepoint runs on its transaction's connection.
            const own = connection ?? new TransactionConnection();
            const outcome = method.call(target, ...args, (client: Sql) =>
              own.settle(() => body(preparingStatements(client, own))),
            );
            if (!connection) own.follow(outcome);
            return outcome;
          };
        default:
          return Reflect.get(target, property, receiver);
      }
    },
  });
}
