import { type AddressInfo, connect, createServer, type Socket } from 'node:net';

export type TcpProxy = {
  port: number;
  stop(): Promise<void>;
  /**
   * Cuts every connection and closes each new one at once, while keeping the port: the target
   * looks down to its clients (as a Redis that stopped), until `up()`.
   */
  down(): void;
  /**
   * Cuts every connection and stops listening, so that a new one is refused (ECONNREFUSED), as
   * for a database server that is not running, until `up()`.
   */
  refuse(): Promise<void>;
  /** Lets connections through again (the target is back, on the same address). */
  up(): Promise<void>;
  /**
   * Silences every open connection whose client has sent `text`: nothing more passes either way,
   * and neither end is closed or reset, as in a network partition that drops packets. Neither
   * side can tell such a connection from an idle one. Answers how many were silenced.
   */
  silence(text: string): number;
};

/**
 * A loopback TCP proxy to a local port: lets a test take a service away from one server (stop
 * the proxy, take it down and up again, or silence a connection) without touching the service
 * other tests use.
 */
export async function startTcpProxy(targetPort: number): Promise<TcpProxy> {
  /** Each client connection: what its client has sent, and whether it is silenced. */
  const connections = new Map<Socket, { upstream: Socket; sent: string; silenced: boolean }>();
  let down = false;
  const proxy = createServer((client) => {
    if (down) {
      client.destroy();
      return;
    }
    const upstream = connect(targetPort, '127.0.0.1');
    const connection = { upstream, sent: '', silenced: false };
    connections.set(client, connection);
    client.on('data', (data: Buffer) => {
      if (connection.silenced) return;
      connection.sent += data.toString('latin1');
      upstream.write(data);
    });
    upstream.on('data', (data: Buffer) => {
      if (!connection.silenced) client.write(data);
    });
    const end = () => {
      connections.delete(client);
      client.destroy();
      upstream.destroy();
    };
    for (const s of [client, upstream]) {
      s.on('close', end);
      s.on('error', end);
    }
  });
  // Listening again on the same port (after `refuse`) fails if something took it meanwhile.
  const listen = (on: number) =>
    new Promise<void>((resolve, reject) => {
      proxy.once('error', reject);
      proxy.listen(on, '127.0.0.1', () => {
        proxy.off('error', reject);
        resolve();
      });
    });
  await listen(0);
  const { port } = proxy.address() as AddressInfo;
  let refusing = false;
  const cut = () => {
    for (const [client, { upstream }] of connections) {
      client.destroy();
      upstream.destroy();
    }
  };
  return {
    port,
    stop: () =>
      new Promise<void>((resolve) => {
        cut();
        proxy.close(() => resolve());
      }),
    down() {
      down = true;
      cut();
    },
    async refuse() {
      refusing = true;
      cut();
      await new Promise<void>((resolve) => proxy.close(() => resolve()));
    },
    async up() {
      down = false;
      if (refusing) {
        refusing = false;
        await listen(port);
      }
    },
    silence(text) {
      let silenced = 0;
      for (const connection of connections.values()) {
        if (!connection.silenced && connection.sent.includes(text)) {
          connection.silenced = true;
          silenced++;
        }
      }
      return silenced;
    },
  };
}
