import { afterEach } from 'vitest';
import {
  startStalledServer as startStalled,
  startStandIn as start,
  type StalledServer,
  type StandIn,
  type StandInOptions,
} from '../esdb-standin/index.ts';

/** Anything a test opens on a stand-in and must let go of: a store, a raw client wrapped as `{ close }`. */
export interface Closable {
  close(): unknown;
}

/**
 * The gRPC stand-ins (and stalled servers) one test file starts, and the stores it opens on them, let go of after each
 * of its tests, even one that failed midway. The stores are closed first, last held first, so the calls they have in
 * flight are answered and their close resolves; only then are the servers stopped, which would otherwise cut those
 * calls off (or leave a close waiting on a server gone). Registers one `afterEach` in the scope it is called in.
 */
export const standInTeardown = () => {
  const held: Closable[] = [];
  const servers: { stop(): Promise<void> }[] = [];
  afterEach(async () => {
    const failures: unknown[] = [];
    const attempt = async (step: () => unknown) => {
      try {
        await step();
      } catch (error) {
        failures.push(error);
      }
    };
    for (const store of held.splice(0).reverse()) await attempt(() => store.close());
    for (const server of servers.splice(0)) await attempt(() => server.stop());
    if (failures.length > 0) throw failures[0];
  });
  const stopped = <T extends { stop(): Promise<void> }>(server: T): T => {
    servers.push(server);
    return server;
  };
  return {
    /** A stand-in (`startStandIn` of esdb-standin), stopped after the test. */
    startStandIn: async (options?: StandInOptions): Promise<StandIn> => stopped(await start(options)),
    /** A server that never answers (`startStalledServer` of esdb-standin), stopped after the test. */
    startStalledServer: async (): Promise<StalledServer> => stopped(await startStalled()),
    /** `store`, closed after the test before any server is stopped. */
    hold: <T extends Closable>(store: T): T => {
      held.push(store);
      return store;
    },
  };
};
