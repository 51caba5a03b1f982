// A process that dies by SIGKILL in the middle of creating a key file: the crash test in
// test/key-files-survive-a-crash.test.ts runs it as
//   node --import tsx test/support/kill-during-write.ts <transparency-key|kek> <folder> <fs function> <nth call>
// It replaces the named `node:fs` function (for the CJS object and, through syncBuiltinESMExports, for every ESM
// import of it) with one that kills the process on its nth call once the key is being opened. SIGKILL runs no
// handler, no `finally` and no cleanup: what is on disk afterwards is what a real kill at that point leaves.
import fs from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import { join } from 'node:path';

const [target, folder, step, nth] = process.argv.slice(2);
if (folder === undefined || step === undefined || nth === undefined) throw new Error('usage: <target> <folder> <fs function> <nth call>');

const functions = fs as unknown as Record<string, (...args: unknown[]) => unknown>;
const original = functions[step];
if (typeof original !== 'function') throw new Error(`node:fs has no function ${step}`);
let armed = false;
let calls = 0;
functions[step] = (...args: unknown[]) => {
  if (armed && ++calls === Number(nth)) {
    process.kill(process.pid, 'SIGKILL');
    for (;;); // SIGKILL to oneself is delivered before kill() returns; never go on in any case
  }
  return original.apply(fs, args);
};
syncBuiltinESMExports();

const { openKeyFileSignerInDir } = await import('../../adapters/driven/transparency/index.ts');
const { loadKek } = await import('../../adapters/driven/secure-environment/kek.ts');
const { randomBytes } = await import('node:crypto');

armed = true;
if (target === 'transparency-key') openKeyFileSignerInDir(folder, 'credence.test/log');
else if (target === 'kek') loadKek({ source: 'file', path: join(folder, 'kek') }, (length) => new Uint8Array(randomBytes(length)));
else throw new Error(`unknown target ${String(target)}`);
armed = false;
process.stdout.write(`completed after ${calls} calls of ${step}\n`);
