import type { Server } from 'node:http';
import { type ExecutionArgs, GraphQLError } from 'graphql';
import { useServer } from 'graphql-ws/use/ws';
import type { YogaServerInstance } from 'graphql-yoga';
import type { Logger } from 'pino';
import { WebSocketServer } from 'ws';
import type { SocketCredential } from './credentials.ts';

type Enveloped = {
  execute: (args: ExecutionArgs) => unknown;
  subscribe: (args: ExecutionArgs) => unknown;
};

/**
 * The error an operation refused before it ran is answered with. What graphql-ws does with an
 * exception (print it, close the socket with 4500) is for bugs; a refusal is an answer, and
 * anything else is logged and masked as over HTTP.
 */
function refusal(error: unknown, log: Logger): GraphQLError {
  if (error instanceof GraphQLError) {
    // The HTTP status an error carries for yoga means nothing on a socket.
    const { http: _http, ...extensions } = error.extensions;
    return new GraphQLError(error.message, {
      nodes: error.nodes,
      source: error.source,
      positions: error.positions,
      extensions,
    });
  }
  log.error({ err: error }, 'websocket operation failed before it ran');
  return new GraphQLError('Unexpected error.', { extensions: { code: 'INTERNAL_SERVER_ERROR' } });
}

/**
 * GraphQL over WebSocket (the graphql-transport-ws protocol) on the HTTP server's own port and
 * path. The credential comes once, in the connection parameters (`{ authorization: "Bearer ..." }`),
 * and is checked on connect: a credential that is sent but not valid closes the socket (4403);
 * none at all connects as anonymous. Every operation is then authorized again, as of now, and
 * counted against the request rate as an HTTP request is: a credential that lapsed since (a key
 * revoked or rotated, a token expired) gets UNAUTHENTICATED for that operation, and the socket
 * stays open. Operations run through yoga's envelop, so error masking, the armor limits and the
 * schema are the HTTP ones; a document they refuse is answered with its errors, never by closing
 * the socket.
 * A message larger than `maxMessageBytes` (the HTTP body limit) closes the socket with 1009
 * (message too big) before it is parsed: the ws default would buffer 100 MiB.
 */
export function attachGraphQLWebSocket(params: {
  server: Server;
  path: string;
  // biome-ignore lint/suspicious/noExplicitAny: yoga's server and user context types are the app's.
  yoga: YogaServerInstance<any, any>;
  authenticate: (authorization: unknown) => Promise<SocketCredential>;
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
  useServer<Record<string, unknown>, { credential: SocketCredential }>(
    {
      onConnect: async (ctx) => {
        try {
          ctx.extra.credential = await params.authenticate(ctx.connectionParams?.authorization);
          return true;
        } catch (error) {
          params.log.info({ reason: (error as Error).message }, 'websocket connection refused');
          return false;
        }
      },
      execute: (args) => (args.rootValue as Enveloped).execute(args) as never,
      subscribe: (args) => (args.rootValue as Enveloped).subscribe(args) as never,
      onSubscribe: async (ctx, _id, payload) => {
        try {
          const { credential } = ctx.extra;
          // graphql-ws runs no operation before onConnect accepted the socket.
          if (!credential) throw new Error('an operation before the connection was acknowledged');
          const principal = await credential.admit();
          const { schema, execute, subscribe, contextFactory, parse, validate } = params.yoga.getEnveloped({
            principal,
            credential: credential.check,
          });
          const document = parse(payload.query);
          // graphql-armor throws its refusals from validation instead of returning them.
          const errors = validate(schema, document);
          if (errors.length > 0) return errors;
          return {
            schema,
            operationName: payload.operationName,
            document,
            variableValues: payload.variables,
            contextValue: await contextFactory(),
            rootValue: { execute, subscribe },
          } satisfies ExecutionArgs;
        } catch (error) {
          return [refusal(error, params.log)];
        }
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
