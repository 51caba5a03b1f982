// A process that dies by SIGKILL in the middle of a data folder's first open of one of its databases:
//   node --import tsx test/support/kill-during-first-open.ts <keys|access|readmodels> <folder> <nth step>
// A step is a call of the SQLite connection (pragma, exec, serialize) or of a `node:fs` function that writes the
// folder (open, write, fsync, close, link, rename, unlink); the process kills itself just before its nth step once
// the open has begun. SIGKILL runs no handler, no `finally` and no cleanup: what is on disk afterwards is what a
// real kill at that point leaves. Run to the end, it prints how many steps the open took.
import Database from 'better-sqlite3';
import fs from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';

const [target, folder, nth] = process.argv.slice(2);
if (target === undefined || folder === undefined || nth === undefined) throw new Error('usage: <keys|access|readmodels> <folder> <nth step>');

let armed = false;
const steps: string[] = [];
const killBefore = <F extends (...args: never[]) => unknown>(name: string, original: F): F =>
  function (this: unknown, ...args: Parameters<F>) {
    if (armed) {
      const first: unknown = args[0];
      steps.push(`${name}(${typeof first === 'string' ? first.trim().slice(0, 40) : ''})`);
      if (steps.length === Number(nth)) {
        process.kill(process.pid, 'SIGKILL');
        for (;;); // SIGKILL to oneself is delivered before kill() returns; never go on in any case
      }
    }
    return original.apply(this, args);
  } as F;

const connection = Database.prototype as unknown as Record<string, (...args: never[]) => unknown>;
for (const name of ['pragma', 'exec', 'serialize']) connection[name] = killBefore(name, connection[name]!);
const functions = fs as unknown as Record<string, (...args: never[]) => unknown>;
for (const name of ['openSync', 'writeSync', 'fsyncSync', 'closeSync', 'linkSync', 'renameSync', 'unlinkSync']) functions[name] = killBefore(name, functions[name]!);
syncBuiltinESMExports();

// Only the opener asked for is loaded: a child starts in a fraction of a second, and a test runs one per step.
const open = async (): Promise<() => { close(): void }> => {
  switch (target) {
    case 'keys': {
      const { SqliteKeyRegistry } = await import('../../adapters/driven/key-registry/sqlite-key-registry.ts');
      return () => SqliteKeyRegistry.open({ dir: folder });
    }
    case 'access': {
      const { openAccessRegistry } = await import('../../adapters/driven/access/sqlite-access-registry.ts');
      return () => openAccessRegistry({ dir: folder });
    }
    case 'readmodels': {
      const { openReadModels } = await import('../../adapters/driven/readmodels/open.ts');
      return () => openReadModels({ dir: folder });
    }
    default:
      throw new Error(`unknown target ${target}`);
  }
};
const opener = await open();

armed = true;
const opened = opener();
armed = false;
opened.close();
process.stdout.write(`${JSON.stringify({ steps })}\n`);
