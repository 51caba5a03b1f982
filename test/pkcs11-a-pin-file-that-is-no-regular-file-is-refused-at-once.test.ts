/**
 * Review 53 finding 7: the PIN file was checked by name and then read by name, with no regular-file check, so a FIFO
 * in its place hung the process in open() (synchronously: the whole service) until some writer came, and a folder
 * gave a raw EISDIR. Now it is read through one non-blocking file descriptor whose fstat is what is checked: a FIFO
 * or a folder is refused at once as `pin-source`/`pin_file`, at open and at a re-login after a lost session.
 * Without the fix a writer that comes 3 s later (so the test cannot hang for ever) ends the wait: the open then goes
 * on with what it wrote, and is not refused as pin_file.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { isCredenceError } from '../domain/errors.ts';
import { Pkcs11SecureEnvironment } from '../adapters/driven/secure-environment/pkcs11/index.ts';
import { rejection } from './support/pin-free-rejection.ts';
import { softHsm, softHsmMissing, withSoftHsmModule } from './support/softhsm.ts';

const random = (length: number) => new Uint8Array(randomBytes(length));
const text = (s: string) => new TextEncoder().encode(s);
const OWNER = 'maf:infrastructure';
/** Refused "at once": far below the 3 s after which the late writer would end a blocked open. */
const PROMPTLY_MS = 1_000;

/** The first issue of a rejection (support/pin-free-rejection.ts) and how long it took, after checking that no PIN is in the error. */
const timedRejection = async (run: () => Promise<unknown>, pins: readonly string[]) => {
  const started = performance.now();
  const error = await run().then(
    () => undefined,
    (e: unknown) => e,
  );
  const elapsed = performance.now() - started;
  if (!isCredenceError(error)) throw new Error(`expected a refusal, got ${String(error)}`);
  for (const pin of pins) expect(`${error.message} ${JSON.stringify(error.problem)} ${error.stack}`).not.toContain(pin);
  // At open a `validation` issue; at a re-login `secure_environment_unavailable` (review 144), as the shared helper reads it.
  return { issue: await rejection(() => Promise.reject(error)), elapsed };
};

describe.skipIf(softHsmMissing !== undefined)('PKCS#11 Secure Environment: a PIN file that is no regular file', () => {
  const hsm = softHsm();
  const token = hsm.token('pinfile');
  const writers: ChildProcess[] = [];
  afterAll(() => hsm.cleanup());

  /**
   * A FIFO at `path`, and from 3 s on a writer to it for each reader while it is one: a blocking open would wait for
   * it, then read what it wrote (and the next blocking open would not hang either).
   */
  const fifo = (path: string) => {
    execFileSync('mkfifo', ['-m', '600', path]);
    writers.push(spawn('sh', ['-c', 'sleep 3; while [ -p "$0" ]; do printf "not-the-pin\\n" > "$0"; done', path], { stdio: 'ignore' }));
  };
  const stopWriters = () => {
    for (const writer of writers.splice(0)) writer.kill('SIGKILL');
  };
  afterEach(() => stopWriters());

  const uri = (path: string) => token.uri().replace(/pin-source=file:[^&]*/, `pin-source=file:${path}`);

  it('a FIFO as the PIN file is refused at open, at once, as pin_file saying so', async () => {
    const pipe = join(hsm.dir, 'pipe.pin');
    fifo(pipe);
    const asFifo = await timedRejection(async () => Pkcs11SecureEnvironment.open({ uri: uri(pipe) }, { random }), [token.pin]);
    expect(asFifo.issue).toMatchObject({ path: 'pin-source', rule: 'pin_file' });
    expect(asFifo.issue?.message).toContain(`the file ${pipe} is a FIFO`);
    expect(asFifo.elapsed).toBeLessThan(PROMPTLY_MS);
  });

  it('a folder as the PIN file is refused at open as pin_file saying so', async () => {
    const folder = join(hsm.dir, 'folder.pin');
    mkdirSync(folder, { mode: 0o700 });
    const asFolder = await timedRejection(async () => Pkcs11SecureEnvironment.open({ uri: uri(folder) }, { random }), [token.pin]);
    expect(asFolder.issue).toMatchObject({ path: 'pin-source', rule: 'pin_file' });
    expect(asFolder.issue?.message).toContain(`the file ${folder} is a folder`);
  });

  it('a PIN file swapped for a FIFO under a running Secure Environment is refused at once at the re-login; put back, it serves', async () => {
    const se = Pkcs11SecureEnvironment.open({ uri: token.uri() }, { random });
    const kept = join(hsm.dir, 'kept.pin');
    try {
      await withSoftHsmModule(async (module) => {
        const psk = await se.generate(OWNER, 'psk256');
        const tag = await se.mac(OWNER, psk, text('m'));
        renameSync(token.pinFile, kept);
        fifo(token.pinFile);
        module.C_Finalize();
        module.C_Initialize();

        const { issue, elapsed } = await timedRejection(() => se.mac(OWNER, psk, text('m')), [token.pin]);
        expect(issue).toMatchObject({ path: 'pin-source', rule: 'pin_file' });
        expect(issue?.message).toContain('is a FIFO');
        expect(elapsed).toBeLessThan(PROMPTLY_MS);

        stopWriters();
        rmSync(token.pinFile);
        renameSync(kept, token.pinFile);
        expect(await se.mac(OWNER, psk, text('m'))).toEqual(tag);
      });
    } finally {
      se.close();
    }
  });
});
