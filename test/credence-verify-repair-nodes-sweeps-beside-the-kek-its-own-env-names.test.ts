import Database from 'better-sqlite3';
import { existsSync, mkdirSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openSqliteStoreInDir } from '../adapters/driven/store/index.ts';
import { run as exportCommand } from '../bin/commands/export.ts';
import { run as verifyCommand } from '../bin/commands/verify.ts';
import { capture } from './support/cli.ts';
import { appendEvents, tempDirs } from './transparency-fixtures.ts';

/*
 * `credence verify --repair-nodes` took the data folder's lock with process.env, as `credence ca` did
 * (credence-ca-sweeps-beside-the-kek-its-own-env-names.test.ts): run with another env, the whole-KEK temp a killed
 * write left beside the KEK its CREDENCE_KEK_FILE names outside the folder stayed. It now takes the lock with the
 * command's env, and says where what it removed was.
 */
const dirs = tempDirs('credence-verify-kek-strays-');
afterEach(() => dirs.cleanup());

/** Above Linux's largest pid (2^22): never a running process, as the pid of a killed writer is not. */
const DEAD_PID = 4_194_305;
const KEK = 'credence.kek';
const OLD_STRAY = `.${KEK}.${DEAD_PID}.0123456789ab.tmp`;

describe('credence verify --repair-nodes, run with an env whose CREDENCE_KEK_FILE is outside the data folder', () => {
  it('removes the old temp a killed write of that KEK left beside it, and names it as left beside the KEK', async () => {
    const dir = join(dirs.make(), 'data');
    const kekFolder = join(dirs.make(), 'secrets');
    mkdirSync(kekFolder, { mode: 0o700 });
    const env = { CREDENCE_KEK_FILE: join(kekFolder, KEK) };
    // 8 events logged and signed by an export, one stored subtree hash of its log changed: a repair to make.
    const store = openSqliteStoreInDir(dir);
    await appendEvents(store, 8);
    await store.close();
    const exported = capture();
    expect(await exportCommand(['credential-meter-1', '--out', join(dir, 'bundle.json'), '--data', dir], { ...exported.io, env }), exported.err.join('\n')).toBe(0);
    const db = new Database(join(dir, 'transparency.db'));
    db.prepare('UPDATE nodes SET hash = randomblob(32) WHERE level = 2 AND idx = 1').run();
    db.close();
    writeFileSync(join(kekFolder, OLD_STRAY), 'a whole KEK, say\n', { mode: 0o600 });
    const anHourAgo = Date.now() / 1000 - 3600;
    utimesSync(join(kekFolder, OLD_STRAY), anHourAgo, anHourAgo);

    const c = capture();
    const key = readFileSync(join(dir, 'transparency.pub'), 'utf8').trim();
    const code = await verifyCommand(['--data', dir, '--key', key, '--repair-nodes'], { ...c.io, env });

    expect(code, c.err.join('\n')).toBe(0);
    expect(c.err.join('\n')).toMatch(/^repaired: /m);
    expect(existsSync(join(kekFolder, OLD_STRAY))).toBe(false);
    expect(c.err.join('\n')).toContain(`credence verify: removed the temp files interrupted writes had left in ${dir} or beside its KEK file: ${join(kekFolder, OLD_STRAY)}`);
    expect(c.err.join('\n')).not.toContain('a whole KEK');
  });
});
