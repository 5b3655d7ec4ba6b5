import net from 'node:net';

/** One client connection through the proxy, and everything the client has sent on it. */
export type ProxiedConnection = { sent: string; silenced: boolean };

/**
 * A TCP proxy to `target` that can make a connection go silent: nothing more passes either way,
 * and neither end is closed or reset, as in a network partition that drops packets. Neither
 * PostgreSQL nor its client can tell such a connection from an idle one.
 */
export async function startTcpProxy(target: { host: string; port: number }) {
  const connections = new Map<ProxiedConnection, { client: net.Socket; server: net.Socket }>();
  const proxy = net.createServer((client) => {
    const server = net.connect(target.port, target.host);
    const connection: ProxiedConnection = { sent: '', silenced: false };
    connections.set(connection, { client, server });
    client.on('data', (data) => {
      if (connection.silenced) return;
      connection.sent += data.toString('latin1');
      server.write(data);
    });
    server.on('data', (data) => {
      if (!connection.silenced) client.write(data);
    });
    const end = () => {
      connections.delete(connection);
      client.destroy();
      server.destroy();
    };
    for (const socket of [client, server]) {
      socket.on('error', end);
      socket.on('close', end);
    }
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  const { port } = proxy.address() as net.AddressInfo;
  return {
    /** `url` with its host and port replaced by the proxy's. */
    urlThrough(url: string): string {
      const through = new URL(url);
      through.hostname = '127.0.0.1';
      through.port = String(port);
      return through.toString();
    },
    /** Silences every open connection whose client has sent `text`; returns how many. */
    silence(text: string): number {
      let silenced = 0;
      for (const connection of connections.keys()) {
        if (!connection.silenced && connection.sent.includes(text)) {
          connection.silenced = true;
          silenced++;
        }
      }
      return silenced;
    },
    async close(): Promise<void> {
      for (const { client, server } of connections.values()) {
        client.destroy();
        server.destroy();
      }
      await new Promise<void>((resolve) => proxy.close(() => resolve()));
    },
  };
}
