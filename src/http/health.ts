import type { IncomingMessage, ServerResponse } from 'node:http';
import { sql } from 'drizzle-orm';
import type { Database } from '../db/client.ts';
import { migrationsApplied } from '../db/migrate.ts';

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
  res.end(JSON.stringify(body));
}

/** Liveness: the process is up and serving HTTP. */
export function healthHandler() {
  return async (_req: IncomingMessage, res: ServerResponse) => json(res, 200, { status: 'ok' });
}

/** Readiness: the database answers and every migration is applied. */
export function readyHandler(database: Database) {
  return async (_req: IncomingMessage, res: ServerResponse) => {
    try {
      await database.db.execute(sql`select 1`);
    } catch (error) {
      return json(res, 503, {
        status: 'unavailable',
        database: 'unreachable',
        error: (error as Error).message,
      });
    }
    if (!(await migrationsApplied(database))) {
      return json(res, 503, { status: 'unavailable', database: 'ok', migrations: 'pending' });
    }
    json(res, 200, { status: 'ready', database: database.kind, migrations: 'applied' });
  };
}
