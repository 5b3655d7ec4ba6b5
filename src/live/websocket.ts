import type { Server } from 'node:http';
import type { ExecutionArgs, GraphQLError } from 'graphql';
import { useServer } from 'graphql-ws/use/ws';
import type { YogaServerInstance } from 'graphql-yoga';
import type { Logger } from 'pino';
import { WebSocketServer } from 'ws';
import type { Principal } from '../auth/principal.ts';

type Enveloped = {
  execute: (args: ExecutionArgs) => unknown;
  subscribe: (args: ExecutionArgs) => unknown;
};

/**
 * GraphQL over WebSocket (the graphql-transport-ws protocol) on the HTTP server's own port and
 * path. The credential comes once, in the connection parameters (`{ authorization: "Bearer ..." }`),
 * and is checked on connect: a credential that is sent but not valid closes the socket (4403);
 * none at all connects as anonymous, and each subscription is then authorized on subscribe.
 * Operations run through yoga's envelop, so error masking and the schema are the HTTP ones.
 * A message larger than `maxMessageBytes` (the HTTP body limit) closes the socket with 1009
 * (message too big) before it is parsed: the ws default would buffer 100 MiB.
 */
export function attachGraphQLWebSocket(params: {
  server: Server;
  path: string;
  // biome-ignore lint/suspicious/noExplicitAny: yoga's server and user context types are the app's.
  yoga: YogaServerInstance<any, any>;
  authenticate: (authorization: unknown) => Promise<Principal>;
  log: Logger;
  maxMessageBytes: number;
}): { close(): Promise<void> } {
  const wss = new WebSocketServer({
    server: params.server,
    path: params.path,
    maxPayload: params.maxMessageBytes,
  });
  // ws repeats the HTTP server's errors (a port in use) as its own, which would throw with no
  // listener; the code that makes the server listen reports them.
  wss.on('error', () => {});
  useServer<Record<string, unknown>, { principal: Principal }>(
    {
      onConnect: async (ctx) => {
        try {
          ctx.extra.principal = await params.authenticate(ctx.connectionParams?.authorization);
          return true;
        } catch (error) {
          params.log.info({ reason: (error as Error).message }, 'websocket connection refused');
          return false;
        }
      },
      execute: (args) => (args.rootValue as Enveloped).execute(args) as never,
      subscribe: (args) => (args.rootValue as Enveloped).subscribe(args) as never,
      onSubscribe: async (ctx, _id, payload) => {
        const { schema, execute, subscribe, contextFactory, parse, validate } = params.yoga.getEnveloped({
          principal: ctx.extra.principal,
        });
        let document: ExecutionArgs['document'];
        try {
          document = parse(payload.query);
        } catch (error) {
          return [error as GraphQLError];
        }
        const args: ExecutionArgs = {
          schema,
          operationName: payload.operationName,
          document,
          variableValues: payload.variables,
          contextValue: await contextFactory(),
          rootValue: { execute, subscribe },
        };
        const errors = validate(args.schema, args.document);
        return errors.length > 0 ? errors : args;
      },
    },
    wss,
  );
  // graphql-ws prints a socket's error with console.error, past the logger, and closes the socket
  // with 1011; ws has closed it already (1009 for a message over maxPayload, or the connection
  // broke). So a client could fill stderr with stack traces: such errors are logged here instead.
  // Registered after graphql-ws's own connection listener, so its error listener is there to go.
  wss.on('connection', (socket) => {
    socket.removeAllListeners('error');
    socket.on('error', (error) => params.log.info({ err: error }, 'websocket closed on a socket error'));
  });
  return {
    close: () =>
      new Promise<void>((resolve) => {
        for (const client of wss.clients) client.close(1001, 'The server is shutting down.');
        wss.close(() => resolve());
      }),
  };
}
