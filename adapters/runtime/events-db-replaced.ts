import { statSync, type BigIntStats } from 'node:fs';
import { join } from 'node:path';
import type { AdmissionStep } from '../engine/index.ts';
import { EVENTS_DB_FILE, parseStoreConnectionString } from '../driven/store/index.ts';

/*
 * Review 264 #4: README's restore steps (events.db, -wal and -shm moved aside, the backup copied in place) done on a
 * running service. Its connection holds the file it opened, whatever the path names now: a command acknowledged after
 * went to the file moved aside, lost to the restored folder, and /readyz stayed ready. SQLite cannot say it (the
 * file it writes is still there, under another name), so the path is held to the file it named when the store opened.
 */

/** A command refused, and readiness failed, once `<data>/events.db` is no longer the file the process has open. */
export class EventsDbReplaced extends Error {
  readonly code = 'events_db_replaced';

  constructor(readonly path: string, readonly found: 'missing' | 'another_file') {
    super(
      `${path} is no longer the event store this service has open (${found === 'missing' ? 'moved aside or deleted' : 'replaced by another file'} ` +
        'while it runs: a restore done with the service running?). What it stored now would go to the file it holds open, ' +
        `not to ${path}: it refuses every command and is not ready. Stop the service, do the restore (README, ` +
        '"Restoring the event store from a backup"; a command acknowledged since the file was moved is in the file moved ' +
        'aside), then start it',
    );
    this.name = 'EventsDbReplaced';
  }
}

/** The embedded store's file held to the path it was opened under. */
export interface EventsDbWatch {
  /** Set by the first check that found the path naming another file or none; kept until the process ends. */
  readonly replaced: EventsDbReplaced | undefined;
  /**
   * One stat of the path against the file opened: the refusal the first time it differs, undefined otherwise (also
   * once it was said). A stat failing otherwise than for a missing file (a folder made unreadable) throws.
   */
  check(): EventsDbReplaced | undefined;
}

const sameFile = (a: BigIntStats, b: BigIntStats): boolean => a.dev === b.dev && a.ino === b.ino;

/** Held to `path`, stat'd now: right after the store opened it (undefined when there is no such file). */
export const watchEventsDb = (path: string): EventsDbWatch | undefined => {
  const opened = statSync(path, { bigint: true, throwIfNoEntry: false });
  if (opened === undefined) return undefined;
  let replaced: EventsDbReplaced | undefined;
  return {
    get replaced() {
      return replaced;
    },
    check() {
      if (replaced !== undefined) return undefined;
      const now = statSync(path, { bigint: true, throwIfNoEntry: false });
      if (now !== undefined && sameFile(now, opened)) return undefined;
      replaced = new EventsDbReplaced(path, now === undefined ? 'missing' : 'another_file');
      return replaced;
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

/**
 * An admission step: once the events.db was found replaced, every command is refused before anything is read or
 * written, the engine's own system actors' too (what they would store goes to the file moved aside as well; they derive
 * it again from the restored store once the service is started on it). A CLI command never checks (its process ends
 * with the command), so it is never refused here.
 */
export const commandsRefusedOnceEventsDbReplaced =
  (watch: Pick<EventsDbWatch, 'replaced'> | undefined): AdmissionStep =>
  () => {
    const replaced = watch?.replaced;
    if (replaced !== undefined) throw replaced;
  };
