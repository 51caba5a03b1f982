import type Database from 'better-sqlite3';
import type { FastifyBaseLogger } from 'fastify';
import type { ServiceLimitsConfig } from './service-limits-config.ts';

// Settings a start accepts that, as given, leave the service useless or less private than its file says (review 434):
// not refused, for each has a use (a tiny bound tests shedding; a class may come before its first node), but said at
// warn once, at start, naming the setting.

/** What the process uses now, as the load shedding reads it (under-pressure: `process.memoryUsage()`). */
export interface MemoryNow {
  readonly heapUsed: number;
  readonly rss: number;
}

/**
 * Review 434 (L4): a memory bound at or below what the process already uses sheds every request but the probes 503
 * `overloaded` from the first one, while the service says `listening` (a unit slip: 512, meant as MiB). One warn line
 * per such bound, naming the setting, its value and the figure now. 0 is no bound.
 */
export const warnMemoryBoundsAlreadyReached = (
  limits: Pick<ServiceLimitsConfig, 'maxHeapUsedBytes' | 'maxRssBytes'>,
  log: FastifyBaseLogger,
  now: MemoryNow = process.memoryUsage(),
): void => {
  const bounds = [
    { setting: 'limits.maxHeapUsedBytes', value: limits.maxHeapUsedBytes, current: now.heapUsed, what: 'heap used' },
    { setting: 'limits.maxRssBytes', value: limits.maxRssBytes, current: now.rss, what: 'resident set size' },
  ];
  for (const { setting, value, current, what } of bounds) {
    if (value === 0 || value > current) continue;
    log.warn(
      { setting, value, current },
      `${setting} is ${value} bytes, at or below the process's ${what} at start (${current} bytes): every request but ` +
        `the probes will be shed 503 overloaded until memory falls below it (the setting is in bytes: 512 MiB is ${512 * 1024 * 1024})`,
    );
  }
};

/** How many classes a warning names of those the registered nodes have. */
const CLASSES_NAMED = 10;

/**
 * The classes `configured` names that no registered node has (the pseudonym directory's `pseudonym_nodes`, whatever
 * state the node is in now), in the order given, with up to `CLASSES_NAMED` classes the nodes do have (sorted; `more`
 * when there are others). Nothing when the directory is not kept. Two reads of the table at most, the second only
 * when a class is unseen.
 */
export const pseudonymClassesUnseen = (
  readModels: Database.Database,
  configured: readonly string[],
): { readonly unseen: readonly string[]; readonly seen: readonly string[]; readonly more: boolean } => {
  const none = { unseen: [], seen: [], more: false };
  if (configured.length === 0) return none;
  const table = readModels.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'pseudonym_nodes'").get();
  if (table === undefined) return none;
  const present = new Set(
    readModels
      .prepare('SELECT value FROM json_each(?) WHERE value IN (SELECT class FROM pseudonym_nodes)')
      .pluck()
      .all(JSON.stringify(configured)) as string[],
  );
  const unseen = configured.filter((name) => !present.has(name));
  if (unseen.length === 0) return none;
  const seen = readModels
    .prepare('SELECT DISTINCT class FROM pseudonym_nodes ORDER BY class LIMIT ?')
    .pluck()
    .all(CLASSES_NAMED + 1) as string[];
  return { unseen, seen: seen.slice(0, CLASSES_NAMED), more: seen.length > CLASSES_NAMED };
};

/**
 * Review 434 (L5): `pseudonyms.classes` takes any name, so a misspelt class (`gatway`) was accepted and its nodes kept
 * the default rotation with no word (SER-011). Said once per configured class no registered node has, once the read
 * models have caught up: `pseudonyms.classes.gatway: no registered node has this class (classes seen: …)`.
 */
export const warnPseudonymClassesUnseen = (readModels: Database.Database, classes: Readonly<Record<string, unknown>> | undefined, log: FastifyBaseLogger): void => {
  const { unseen, seen, more } = pseudonymClassesUnseen(readModels, Object.keys(classes ?? {}));
  const named = seen.length === 0 ? 'none' : `${seen.join(', ')}${more ? ', …' : ''}`;
  for (const name of unseen) {
    const setting = `pseudonyms.classes.${name}`;
    log.warn({ setting, classesSeen: seen }, `${setting}: no registered node has this class (classes seen: ${named})`);
  }
};
