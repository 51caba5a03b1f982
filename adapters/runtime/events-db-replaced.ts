import { statSync, type BigIntStats } from 'node:fs';
import { join } from 'node:path';
import type { AdmissionStep, Engine } from '../engine/index.ts';
import { outcomesNotedBy } from './engine-outcomes-noted.ts';
import { EVENTS_DB_FILE, parseStoreConnectionString } from '../driven/store/index.ts';

/*
 * Review 264 #4: README's restore steps (events.db, -wal and -shm moved aside, the backup copied in place) done on a
 * running service. Its connection holds the file it opened, whatever the path names now: a command acknowledged after
 * went to the file moved aside, lost to the restored folder, and /readyz stayed ready. SQLite cannot say it (the
 * file it writes is still there, under another name), so the path is held to the file it named when the store opened.
 * Review 266 #1: a backup copied over the file in place (`cp`) keeps its inode; once SQLite read it, the service gave
 * out positions it had given out before. So the store's head is held, too, to the highest position the service stored
 * or read: positions are never reused, and a head below it is a file whose content was put back under the service.
 */

/** How the path was found: moved aside (none there), another file there, or its content rewound in place. */
export type EventsDbFound = 'missing' | 'another_file' | 'rewound';

const FOUND: Record<EventsDbFound, string> = {
  missing: 'moved aside or deleted',
  another_file: 'replaced by another file',
  rewound: 'rewound in place, an older copy such as a backup put over it,'
};

/** A command refused, and readiness failed, once `<data>/events.db` is no longer the file the process has open. */
export class EventsDbReplaced extends Error {
  readonly code = 'events_db_replaced';

  /** `positions`: for `rewound`, the head read and the higher position the service had stored or read before. */
  constructor(
    readonly path: string,
    readonly found: EventsDbFound,
    readonly positions?: { readonly head: bigint | undefined; readonly seen: bigint },
  ) {
    const rewound = positions === undefined ? '' : `: its last event is at position ${positions.head ?? 'none'}, the service stored or read ${positions.seen}`;
    super(
      `${path} is no longer the event store this service has open (${FOUND[found]} while it runs${rewound}: a restore done with the ` +
        'service running?). What it stored now would go to the file it holds open, or reuse positions it gave out, ' +
        `not to ${path}: it refuses every command and is not ready. Stop the service, do the restore (README, ` +
        '"Restoring the event store from a backup"; a command acknowledged since the file was moved is in the file moved ' +
        'aside; a copy over the file while the service ran may be undone when it stops, so copy it again), then start it',
    );
    this.name = 'EventsDbReplaced';
  }
}

/** The embedded store's file held to the path it was opened under, and its head to the positions the service saw. */
export interface EventsDbWatch {
  /** Set by the first check that found the path naming another file, none, or a file rewound; kept until the process ends. */
  readonly replaced: EventsDbReplaced | undefined;
  /** A position the service was given by an append (or read): the store's head is never lower while it holds the file. */
  saw(position: bigint): void;
  /**
   * One stat of the path against the file opened, then one read of the store's head against the highest position
   * seen; a check already running is joined. Resolves to the refusal the first time one is found, undefined otherwise
   * (also once it was found). A stat failing otherwise than for a missing file (a folder made unreadable) rejects; a
   * head the store cannot read is no finding (the store's own errors say that).
   */
  check(): Promise<EventsDbReplaced | undefined>;
  /** The check running now, if any: what a command admitted meanwhile waits for. */
  readonly checking: Promise<EventsDbReplaced | undefined> | undefined;
  /** Called once with the refusal when a check finds it (the live runtime logs it); at once if found already. */
  whenFound(listener: (found: EventsDbReplaced) => void): () => void;
}

const sameFile = (a: BigIntStats, b: BigIntStats): boolean => a.dev === b.dev && a.ino === b.ino;

/**
 * Held to `path`, stat'd now: right after the store opened it (undefined when there is no such file). `head` reads the
 * head position of the store that opened it.
 */
export const watchEventsDb = (path: string, head: () => Promise<bigint | undefined>): EventsDbWatch | undefined => {
  const opened = statSync(path, { bigint: true, throwIfNoEntry: false });
  if (opened === undefined) return undefined;
  let replaced: EventsDbReplaced | undefined;
  let seen: bigint | undefined;
  let checking: Promise<EventsDbReplaced | undefined> | undefined;
  const listeners = new Set<(found: EventsDbReplaced) => void>();
  const saw = (position: bigint): void => {
    if (seen === undefined || position > seen) seen = position;
  };
  const find = async (): Promise<EventsDbReplaced | undefined> => {
    if (replaced !== undefined) return undefined;
    const now = statSync(path, { bigint: true, throwIfNoEntry: false });
    let found: EventsDbReplaced | undefined;
    if (now === undefined || !sameFile(now, opened)) found = new EventsDbReplaced(path, now === undefined ? 'missing' : 'another_file');
    else {
      const before = seen;
      const answer = await head().then((position) => ({ position }), () => undefined);
      if (answer === undefined) return undefined;
      const read = answer.position;
      if (before !== undefined && (read === undefined || read < before)) found = new EventsDbReplaced(path, 'rewound', { head: read, seen: before });
      else if (read !== undefined) saw(read);
    }
    if (found === undefined || replaced !== undefined) return undefined;
    replaced = found;
    for (const listener of listeners) listener(found);
    return found;
  };
  return {
    get replaced() {
      return replaced;
    },
    get checking() {
      return checking;
    },
    saw,
    check() {
      if (checking !== undefined) return checking;
      const running = find();
      checking = running;
      const done = (): void => {
        if (checking === running) checking = undefined;
      };
      running.then(done, done);
      return running;
    },
    whenFound(listener) {
      if (replaced !== undefined) listener(replaced);
      else listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
};

/**
 * The events.db of an embedded store openCredence opens itself: the data folder's, or the folder a `sqlite:` connection
 * string names. None in memory, on EventStoreDB, or for a store the caller passed in (its file is the caller's).
 */
export const eventsDbPathOf = (location: { readonly dir: string } | { readonly memory: true }, connectionString: string | undefined): string | undefined => {
  if (connectionString !== undefined) {
    const store = parseStoreConnectionString(connectionString, 'connectionString');
    return store.kind === 'sqlite' ? join(store.dir, EVENTS_DB_FILE) : undefined;
  }
  return 'dir' in location ? join(location.dir, EVENTS_DB_FILE) : undefined;
};

/** How often, at most, a command's admission checks the file (one stat and one head read), on the engine's clock. */
export const ADMISSION_CHECK_EVERY_MS = 1_000;

/**
 * An admission step: once the events.db was found replaced, every command is refused before anything is read or
 * written, the engine's own system actors' too (what they would store goes to the file moved aside as well; they derive
 * it again from the restored store once the service is started on it). It checks itself at most once per `everyMs` of
 * the instants commands are decided at (review 266: the live runtime's ticks may be an hour apart), and a command
 * admitted while a check runs waits for it. A stat that fails otherwise refuses nothing (the live runtime says it).
 */
export const commandsRefusedOnceEventsDbReplaced = (watch: EventsDbWatch | undefined, everyMs: number = ADMISSION_CHECK_EVERY_MS): AdmissionStep => {
  let checkedAt: number | undefined;
  const refuse = (): void => {
    if (watch?.replaced !== undefined) throw watch.replaced;
  };
  return (_command, { at }) => {
    if (watch === undefined) return;
    refuse();
    const now = at.getTime();
    // Either way round: a wall clock stepped back does not hold the checks off until it has caught up.
    const due = checkedAt === undefined || Math.abs(now - checkedAt) >= everyMs;
    if (due) checkedAt = now;
    const pending = due ? watch.check() : watch.checking;
    if (pending === undefined) return;
    return pending.then(refuse, refuse);
  };
};

/**
 * The engine whose every outcome's last position `watch` notes: the positions the service gave out, which the store's
 * head may never be found below (only the engine appends to the store).
 */
export const positionsGivenOutNotedBy = (engine: Engine, watch: EventsDbWatch | undefined): Engine => {
  if (watch === undefined) return engine;
  return outcomesNotedBy(engine, (outcome) => {
    const last = outcome.events.at(-1);
    if (last !== undefined) watch.saw(last.position);
  });
};
