import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

type Handler = (req: IncomingMessage, res: ServerResponse) => Promise<void>;

/** Serves one file's bytes, read once at start-up (all are small and never change). */
function staticFile(body: Buffer, contentType: string): Handler {
  return async (_req, res) => {
    res.writeHead(200, {
      'content-type': contentType,
      'content-length': body.length,
      'cache-control': 'no-cache',
      // The page talks only to this server (HTTP and WebSocket) and loads nothing from elsewhere.
      'content-security-policy':
        "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self' ws: wss:",
    });
    res.end(body);
  };
}

/** The page's own scripts: plain ES modules beside it, served as they are (no build step). */
const MODULES = ['dashboard.js', 'views.js', 'format.js'];

/**
 * The live dashboard at /dashboard: one page, its modules and the graphql-ws browser bundle from
 * node_modules, so it works with no network beyond this server.
 */
export function dashboardRoutes(): Record<string, Handler> {
  const page = readFileSync(new URL('./dashboard.html', import.meta.url));
  const graphqlWsDir = dirname(dirname(createRequire(import.meta.url).resolve('graphql-ws')));
  const bundle = readFileSync(join(graphqlWsDir, 'umd', 'graphql-ws.min.js'));
  const routes: Record<string, Handler> = {
    '/dashboard': staticFile(page, 'text/html; charset=utf-8'),
    '/dashboard/graphql-ws.js': staticFile(bundle, 'text/javascript; charset=utf-8'),
  };
  for (const name of MODULES) {
    routes[`/dashboard/${name}`] = staticFile(
      readFileSync(new URL(`./${name}`, import.meta.url)),
      'text/javascript; charset=utf-8',
    );
  }
  return routes;
}
