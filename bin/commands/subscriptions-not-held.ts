import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ProblemResponse } from '../../adapters/client/http.ts';
import { EVENTS_DB_FILE, openSqliteStoreInDir, StoreConnectionString } from '../../adapters/driven/store/index.ts';
import type { ServiceConfig } from '../../adapters/http/config.ts';
import { streamIdOf } from '../../domain/streams.ts';
import type { Io } from '../io.ts';
import type { clientOf } from './options.ts';
import { storeOfVariable } from './open-store.ts';

/**
 * The subscriptions of `ids` the folder's store does not hold yet, read-only, in the store a service on the folder
 * serves (CREDENCE_STORE, else the --config file's `store`, else the folder's events.db), and where it read: all of
 * them when this command made the folder. Undefined where that cannot be told here: an EventStoreDB store (a
 * connection a token's issue has no need of), a store that does not open, or an events.db missing from a folder made
 * before (review 374: its service may serve a store named only in its own settings, `serve --store` or its unit's
 * CREDENCE_STORE, and an existing subscription was said to be missing).
 */
export const subscriptionsNotHeldLocally = async (
  config: ServiceConfig,
  ids: readonly string[],
  io: Io,
  madeNow: boolean,
): Promise<{ readonly ids: readonly string[]; readonly where: string } | undefined> => {
  try {
    const location = storeOfVariable(io.env ?? process.env) ?? (config.store !== undefined ? StoreConnectionString.parse(config.store) : { kind: 'sqlite' as const, dir: config.data });
    if (location.kind !== 'sqlite') return undefined;
    const where = `the store in ${resolve(location.dir)}`;
    if (!existsSync(join(location.dir, EVENTS_DB_FILE))) return madeNow ? { ids, where } : undefined;
    const store = openSqliteStoreInDir(location.dir, { readOnly: true });
    try {
      const held = await Promise.all(ids.map(async (id) => (await store.readStream(streamIdOf('subscription', id), { maxCount: 1 })).length > 0));
      return { ids: ids.filter((_, at) => !held[at]), where };
    } finally {
      await store.close();
    }
  } catch {
    return undefined;
  }
};

/**
 * The subscriptions of `ids` a server does not hold yet, by the entity read an admin token may make (404: none
 * recorded); undefined when another answer leaves that untold.
 */
export const subscriptionsNotHeldOn = async (client: ReturnType<typeof clientOf>, ids: readonly string[]): Promise<readonly string[] | undefined> => {
  const held = await Promise.all(
    ids.map((id) =>
      client.entity('subscription', id).then(
        () => true,
        (error: unknown) => (error instanceof ProblemResponse && error.status === 404 ? false : undefined),
      ),
    ),
  );
  return held.includes(undefined) ? undefined : ids.filter((_, at) => held[at] === false);
};

/**
 * Review 368: a scope naming a subscription nobody created (a typo) issued a token whose stream stays empty, and nobody
 * was told. Still issued (the subscription may be created later), and said.
 */
export const notHeldNote = (ids: readonly string[], where: string): string => {
  const one = ids.length === 1;
  return `note: ${where} holds no subscription ${ids.join(', ')} yet: this token's stream publishes nothing of ${one ? 'it' : 'them'} until ${one ? 'it is' : 'they are'} created; check the id${one ? '' : 's'} if you meant ${one ? 'an existing subscription' : 'existing ones'}`;
};
