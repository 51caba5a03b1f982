import { createServer } from 'node:net';

/** A port on 127.0.0.1 that nothing listens on (taken, then given back): a server that cannot be reached, or a free port for a child to listen on. */
export const closedPort = async (): Promise<number> => {
  const holder = createServer();
  await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
  const { port } = holder.address() as { port: number };
  await new Promise<void>((resolve) => holder.close(() => resolve()));
  return port;
};
