import type { IncomingMessage } from 'node:http';
import { renderGraphiQL } from '@graphql-yoga/render-graphiql';
import type { GraphiQLOptions } from 'graphql-yoga';
import { type AuthSettings, signUserToken } from '../auth/tokens.ts';

export { renderGraphiQL };

/** How long the header GraphiQL is opened with stays valid: a working day, not the dev banner's month. */
const PREFILLED_TOKEN_LIFETIME = '12h';

/** What GraphiQL opens with: the README's first query, word for word (graphiql.test.ts checks). */
export const DEFAULT_QUERY = `{
  viewer {
    userId
    isPlatformAdmin
  }
  plans {
    code
    basePrice {
      amount
      currency
    }
    entitlements {
      metric {
        key
      }
      included
      hardLimit
      overagePrice {
        model
        unitPrice
      }
    }
  }
  org(slug: "acme") {
    currentPeriod {
      start
      end
    }
    usage {
      metrics {
        metric {
          key
        }
        used
        included
        remaining
        percentUsed
        overageUnits
        overageCost {
          amount
          amountMinor
        }
      }
    }
    overages {
      total {
        amount
        amountMinor
      }
      lines {
        metric {
          key
        }
        units
        unitPrice
        cost {
          amount
        }
      }
    }
  }
}
`;

function fromLoopback(req: IncomingMessage | undefined): boolean {
  const address = req?.socket.remoteAddress ?? '';
  return address === '::1' || address.startsWith('127.') || address.startsWith('::ffff:127.');
}

/**
 * GraphiQL's options per request. The page is rendered from `@graphql-yoga/render-graphiql`
 * (its code inlined, nothing from a CDN), so it works on a machine without internet. Outside
 * production, a browser on the server's own machine gets the platform admin's header in the
 * Headers tab; from anywhere else the tab starts empty, so a development server listening on
 * 0.0.0.0 does not hand its admin token to the network.
 */
export function graphiqlOptions(
  auth: Pick<AuthSettings, 'jwtSecret' | 'adminUserIds' | 'jwtIssuer' | 'jwtAudience'>,
) {
  const admin = auth.adminUserIds[0];
  return async (_request: Request, serverContext?: unknown): Promise<GraphiQLOptions> => {
    const options: GraphiQLOptions = { title: 'Meterline', defaultQuery: DEFAULT_QUERY };
    const req = (serverContext as { req?: IncomingMessage } | undefined)?.req;
    if (admin === undefined || !fromLoopback(req)) return options;
    const token = await signUserToken(auth.jwtSecret, admin, PREFILLED_TOKEN_LIFETIME, {
      issuer: auth.jwtIssuer,
      audience: auth.jwtAudience,
    });
    return { ...options, headers: JSON.stringify({ Authorization: `Bearer ${token}` }, null, 2) };
  };
}
