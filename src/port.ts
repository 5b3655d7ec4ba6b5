import type { Server as HttpServer } from 'node:http';
import { createServer, type Server } from 'node:net';

export type PortHold = {
  /** Closes the placeholder and makes `server` listen on the same port and host. */
  handOver(server: HttpServer): Promise<void>;
};

function portMessage(error: NodeJS.ErrnoException, port: number, host: string): string {
  if (error.code === 'EADDRINUSE') {
    return `PORT: ${port} is already in use on ${host}; stop the process listening there or set PORT to a free port`;
  }
  if (error.code === 'EACCES')
    return `PORT: no permission to listen on ${host}:${port}; use a port above 1023`;
  if (error.code === 'EADDRNOTAVAIL') return `HOST: ${host} is not an address of this machine`;
  return `PORT: cannot listen on ${host}:${port} (${error.message})`;
}

function listen(server: Server | HttpServer, port: number, host: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException) => reject(new Error(portMessage(error, port, host)));
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve();
    });
  });
}

/**
 * Binds the port before anything else starts, so a port in use is found in milliseconds. A
 * placeholder keeps it while the database starts; the server takes over after. Between the two
 * the port is free for a moment, so the takeover can still fail (with the same one line).
 */
export async function holdPort(port: number, host: string): Promise<PortHold> {
  const placeholder = createServer((socket) => socket.destroy());
  await listen(placeholder, port, host);
  const address = placeholder.address();
  const bound = typeof address === 'object' && address ? address.port : port;
  return {
    async handOver(server) {
      await new Promise<void>((resolve) => placeholder.close(() => resolve()));
      await listen(server, bound, host);
    },
  };
}
