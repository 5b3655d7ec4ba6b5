import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { type GraphQLSchema, lexicographicSortSchema, printSchema } from 'graphql';

type Handler = (req: IncomingMessage, res: ServerResponse) => Promise<void>;

function send(body: string, contentType: string): Handler {
  const bytes = Buffer.from(body);
  return async (_req, res) => {
    res.writeHead(200, {
      'content-type': contentType,
      'content-length': bytes.length,
      'cache-control': 'no-cache',
      'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'",
    });
    res.end(bytes);
  };
}

function page(links: { href: string; label: string; about: string }[]): string {
  const items = links
    .map((l) => `    <li><a href="${l.href}">${l.label}</a> <span>${l.about}</span></li>`)
    .join('\n');
  return `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>Meterline</title>
  <style>
    body { font: 16px/1.5 system-ui, sans-serif; max-width: 40rem; margin: 3rem auto; padding: 0 1rem; color: #1d2430; }
    h1 { margin-bottom: 0.2rem; }
    p { color: #4a5568; margin-top: 0; }
    ul { list-style: none; padding: 0; }
    li { margin: 0.8rem 0; }
    a { font-weight: 600; color: #2451b7; }
    span { display: block; color: #4a5568; font-size: 0.9rem; }
  </style>
</head>
<body>
  <h1>Meterline</h1>
  <p>Usage, quota and overage billing, served as a GraphQL API at <code>/graphql</code>.</p>
  <ul>
${items}
  </ul>
</body>
</html>
`;
}

/** The README beside src/, when the deployment kept it. */
function readmeText(): string | undefined {
  try {
    return readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
  } catch {
    return undefined;
  }
}

/**
 * `/` for a person who opened the server in a browser: where GraphiQL, the dashboard, the health
 * checks and the documentation are. Outside production it also serves the README and the schema
 * (production turns GraphiQL and introspection off, so it hands out neither).
 */
export function landingPageRoutes(options: {
  production: boolean;
  schema: GraphQLSchema;
}): Record<string, Handler> {
  const development = !options.production;
  const links = [
    ...(development
      ? [
          {
            href: '/graphql',
            label: 'GraphiQL',
            about: 'run queries in the browser (schema docs in its Docs pane)',
          },
        ]
      : []),
    {
      href: '/dashboard',
      label: 'Dashboard',
      about: "an org's live meters, overage cost, forecast and alerts",
    },
    { href: '/health', label: '/health', about: 'liveness: the process serves HTTP' },
    {
      href: '/ready',
      label: '/ready',
      about: 'readiness: the database answers and the migrations are applied',
    },
    {
      href: '/metrics',
      label: '/metrics',
      about: 'Prometheus metrics (asks for METRICS_TOKEN when one is set)',
    },
    ...(development
      ? [
          {
            href: '/docs',
            label: 'Documentation',
            about: 'the README: configuration, authentication, billing rules',
          },
          { href: '/schema.graphql', label: 'Schema', about: 'the GraphQL schema (SDL)' },
        ]
      : []),
  ];
  const readme = development ? readmeText() : undefined;
  const shown = links.filter((l) => l.href !== '/docs' || readme !== undefined);
  const routes: Record<string, Handler> = { '/': send(page(shown), 'text/html; charset=utf-8') };
  if (readme !== undefined) routes['/docs'] = send(readme, 'text/plain; charset=utf-8');
  if (development) {
    routes['/schema.graphql'] = send(
      printSchema(lexicographicSortSchema(options.schema)),
      'text/plain; charset=utf-8',
    );
  }
  return routes;
}
