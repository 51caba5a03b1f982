import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { cmd } from './fleet.ts';
import { startTestService } from './service.ts';

/**
 * A data folder a service served, on `store` (undefined: its own events.db), holding one `registerNode` event per id
 * (logged, read models built), stopped cleanly.
 */
export const servedFolderWith = async (dir: string, nodeIds: readonly string[], store?: string): Promise<void> => {
  const svc = await startTestService({ dir, config: store === undefined ? {} : { store } });
  try {
    let last = 0n;
    for (const id of nodeIds) last = (await svc.service.context.credence.engine.execute(cmd.registerNode(id))).events.at(-1)!.position;
    if (!(await svc.service.context.live.caughtUp(last, 30_000))) throw new Error('the live runtime did not catch up');
  } finally {
    await svc.close();
  }
};

/** Why a service refuses to start on `dir` served on `store`: its issues' paths and rules, then its message. A start it does not refuse is closed and throws. */
export const startRefusedOn = async (dir: string, store: string): Promise<string> => {
  let started: Awaited<ReturnType<typeof startTestService>>;
  try {
    started = await startTestService({ dir, config: { store } });
  } catch (error) {
    const issues = (error as { problem?: { issues?: { path: string; rule: string }[] } }).problem?.issues ?? [];
    return `${issues.map((i) => `${i.path} ${i.rule}`).join(' ')}: ${(error as Error).message}`;
  }
  await started.close();
  throw new Error(`${dir} was served on ${store}, which holds none of its events`);
};

/** Every file under `dir` (subfolders too), by its path relative to `dir`, with the SHA-256 of its content. */
export const folderSnapshot = (dir: string): Record<string, string> =>
  folderStates(dir, (path, isFolder) => (isFolder ? 'folder' : createHash('sha256').update(readFileSync(path)).digest('hex')));

/**
 * Every entry under `dir`, folders too (a folder as `relative/`), by its path relative to `dir`: what `stateOf` says of
 * it (its content's hash, its mode and times: what a test asserts stayed as it was).
 */
export const folderStates = (dir: string, stateOf: (path: string, isFolder: boolean) => string, under = ''): Record<string, string> =>
  Object.fromEntries(
    readdirSync(join(dir, under))
      .sort()
      .flatMap((name) => {
        const relative = under === '' ? name : `${under}/${name}`;
        const path = join(dir, relative);
        if (statSync(path).isDirectory()) return [[`${relative}/`, stateOf(path, true)], ...Object.entries(folderStates(dir, stateOf, relative))];
        return [[relative, stateOf(path, false)]];
      }),
  );

/**
 * `dir` made a served data folder: one node (`meter-1`) registered and its first pseudonym given out, the service
 * stopped cleanly. Returns the pseudonym.
 */
export const servedFolder = async (dir: string): Promise<{ dir: string; pseudonym: string }> => {
  const svc = await startTestService({ dir });
  try {
    const { credence } = svc.service.context;
    await credence.engine.execute(cmd.registerNode('meter-1'));
    await credence.settle();
    return { dir, pseudonym: await credence.pseudonyms!.deriver.node('meter-1', 0) };
  } finally {
    await svc.close();
  }
};
