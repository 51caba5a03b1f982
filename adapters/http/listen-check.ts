import { createServer } from 'node:net';

/**
 * Whether the service can listen on `host`:`port`, asked before the data folder is touched: a host that does not
 * resolve, an address not of this machine, a port in use or not permitted fail here with the socket's own error
 * (`syscall` `getaddrinfo` or `listen`, which the CLI says plainly as bad usage), instead of after the folder was
 * made (its KEK, keys and stores). The port is let go at once; the server binds it again moments later.
 */
export const assertCanListen = (host: string, port: number): Promise<void> =>
  new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen({ host, port, exclusive: true }, () => probe.close(() => resolve()));
  });
