import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openSqliteStoreInDir } from '../adapters/driven/store/index.ts';
import { main } from '../bin/cli.ts';
import { run as exportCommand } from '../bin/commands/export.ts';
import { run as verifyCommand } from '../bin/commands/verify.ts';
import { ExpectedRevision, type RecordedEvent } from '../domain/ports/index.ts';
import { formatVerifierKey } from '../domain/transparency/index.ts';
import { cannedServer } from './support/canned-server.ts';
import { capture } from './support/cli.ts';
import { EVIDENCE_STREAM as STREAM, evidenceLog, loggedEvent } from './support/evidence-bundle.ts';
import { ORIGIN, appendEvents, eventId, fixedSigner, keyOf, tempDirs } from './transparency-fixtures.ts';

/*
 * Review 217: `credence export --data` wrote a bundle of 77 MB (one stream of 24,000 events) that `credence verify
 * FILE.json` refused, exit 2 "... is larger than 67108864 bytes", as if it were bad input: genuine evidence could not be
 * checked offline. The bound is now one the auditor may raise deliberately (`--max-bundle-mib N`), the refusal names it
 * and the file's size, and an export that writes past the default bound says which option reads it back.
 */

const dirs = tempDirs();
afterEach(() => dirs.cleanup());

const MIB = 1024 * 1024;
const signer = fixedSigner(1, ORIGIN);
const KEY = formatVerifierKey(keyOf(signer));

const ev = (revision: number, data: RecordedEvent['data']): RecordedEvent => loggedEvent(revision, data);

/** A genuine bundle of `events`, as JSON text written compactly (as a server answers it). */
const bundleText = (events: RecordedEvent[]): Promise<string> => evidenceLog(events, signer).bundleText();

/** A genuine bundle padded with whitespace (the same JSON values) to exactly `bytes`. */
const paddedBundleFile = async (bytes: number): Promise<string> => {
  const text = await bundleText([ev(0, { index: 0 }), ev(1, { index: 1 })]);
  const file = join(dirs.make(), 'bundle.json');
  writeFileSync(file, text + ' '.repeat(bytes - Buffer.byteLength(text)));
  expect(statSync(file).size).toBe(bytes);
  return file;
};

const verify = async (argv: string[]) => {
  const c = capture();
  return { code: await verifyCommand(argv, c.io), out: c.out.join('\n'), err: c.err.join('\n') };
};

describe('credence verify FILE.json --max-bundle-mib', () => {
  it('refuses a bundle just over the bound given, naming its size and the option that reads it; that option verifies it', async () => {
    const file = await paddedBundleFile(MIB + 1);
    const refused = await verify([file, '--key', KEY, '--max-bundle-mib', '1']);
    expect(refused.code).toBe(2);
    expect(refused.err).toContain(`${file} is ${MIB + 1} bytes`);
    expect(refused.err).toContain('--max-bundle-mib 2');
    expect(refused.err).not.toContain('larger than 1048576 bytes');
    const read = await verify([file, '--key', KEY, '--max-bundle-mib', '2']);
    expect(read.err).toBe('');
    expect(read.code).toBe(0);
    expect(read.out).toContain('ok: 2 events of credential-meter-1');
  });

  it('reads 64 MiB by default: one byte more is refused naming --max-bundle-mib 65, which reads it', async () => {
    const file = await paddedBundleFile(64 * MIB + 1);
    const refused = await verify([file, '--key', KEY]);
    expect(refused.code).toBe(2);
    expect(refused.err).toContain(`${file} is ${64 * MIB + 1} bytes`);
    expect(refused.err).toContain('--max-bundle-mib 65');
    const read = await verify([file, '--key', KEY, '--max-bundle-mib', '65']);
    expect(read.err).toBe('');
    expect(read.code).toBe(0);
  }, 30_000);

  it('a bundle of exactly the bound is read', async () => {
    const file = await paddedBundleFile(MIB);
    const read = await verify([file, '--key', KEY, '--max-bundle-mib', '1']);
    expect(read.err).toBe('');
    expect(read.code).toBe(0);
  });

  it('holds a bundle to the JSON values of the bound it was read within, not to the default: more than 2,000,000 verify with a raised one', async () => {
    // 2,400,000 values in some 5 MB: past what 64 MiB allows (2,000,000), within what 128 MiB allows.
    const events = Array.from({ length: 30 }, (_, i) => ev(i, { index: i, readings: new Array<number>(80_000).fill(i % 10) }));
    const file = join(dirs.make(), 'dense.json');
    writeFileSync(file, await bundleText(events));
    const byDefault = await verify([file, '--key', KEY]);
    expect(byDefault.code).toBe(2);
    expect(byDefault.err).toMatch(/more than 2000000 JSON values, what --max-bundle-mib 64 allows: give a larger --max-bundle-mib \(512 allows 16000000\)$/);
    const raised = await verify([file, '--key', KEY, '--max-bundle-mib', '128']);
    expect(raised.err).toBe('');
    expect(raised.code).toBe(0);
  }, 60_000);

  it('refuses a value that is no whole number of MiB from 1 to 512, naming the option (exit 2)', async () => {
    const file = await paddedBundleFile(10_000);
    for (const value of ['0', '513', 'abc', '1.5', '0x10', '-1']) {
      const refused = await verify([file, '--key', KEY, `--max-bundle-mib=${value}`]);
      expect(refused.code, value).toBe(2);
      expect(refused.err, value).toContain('--max-bundle-mib');
    }
  });

  it('refuses it in the modes that read no bundle file, naming the mode (exit 2)', async () => {
    const dir = dirs.make();
    const refused = await verify(['--data', dir, '--max-bundle-mib', '100']);
    expect(refused.code).toBe(2);
    expect(refused.err).toContain('--max-bundle-mib: does not go with --data');
    const remote = capture();
    const code = await main(['verify', 'credential-meter-1', '--key', KEY, '--server', 'http://127.0.0.1:9', '--max-bundle-mib', '100'], { ...remote.io, env: { CREDENCE_TOKEN: 'a.b.c' } });
    // Refused before the server is asked (verify-remote.ts refuses every option it does not parse).
    expect(code).toBe(2);
    expect(remote.err.join('\n')).toMatch(/max-?bundle-?mib/i);
  });
});

describe('credence export past the bound credence verify reads by default', () => {
  const server = cannedServer();

  it('says, on stderr, the --max-bundle-mib that reads back the bundle it wrote (from a server), and that option verifies it', async () => {
    // 1,500 events of 1,000 short strings each: some 50 MB as a server answers it, over 64 MiB as export writes it
    // (indented), under the values a bundle of that size may hold.
    const parts = Array.from({ length: 1000 }, (_, i) => `part ${i} of the record, as text`);
    const events = Array.from({ length: 1500 }, (_, i) => ev(i, { index: i, parts }));
    server.answers.set(`/v1/transparency/evidence/credential/meter-1`, await bundleText(events));
    const out = join(dirs.make(), 'big.json');
    const c = capture();
    const code = await main(['export', STREAM, '--out', out, '--server', server.url(), '--key', KEY], { ...c.io, env: { CREDENCE_TOKEN: 'a.b.c' } });
    expect(c.err.join('\n')).not.toContain('error');
    expect(code).toBe(0);
    const bytes = statSync(out).size;
    expect(bytes).toBeGreaterThan(64 * MIB);
    const mib = Math.ceil(bytes / MIB);
    expect(c.err.join('\n')).toContain(`${out} is ${bytes} bytes`);
    expect(c.err.join('\n')).toContain(`credence verify ${out} --max-bundle-mib ${mib}`);

    const refused = await verify([out, '--key', KEY]);
    expect(refused.code).toBe(2);
    expect(refused.err).toContain(`--max-bundle-mib ${mib}`);
    const read = await verify([out, '--key', KEY, '--max-bundle-mib', String(mib)]);
    expect(read.err).toBe('');
    expect(read.code).toBe(0);
    expect(read.out).toContain('ok: 1500 events of credential-meter-1');
  }, 60_000);

  it('says so of a local export past the bound too, and nothing of one under it', async () => {
    const dir = dirs.make();
    const store = openSqliteStoreInDir(dir);
    const blob = 'x'.repeat(240_000);
    for (let i = 0; i < 290; i++) {
      await store.appendToStream(STREAM, [{ id: eventId(i), type: 'CredentialProvisioned', data: { index: i, blob }, metadata: { actor: 'operator-1' } }], {
        expectedRevision: ExpectedRevision.any,
      });
    }
    await store.close();
    const out = join(dir, 'big.json');
    const c = capture();
    expect(await exportCommand([STREAM, '--out', out, '--data', dir], c.io)).toBe(0);
    const bytes = statSync(out).size;
    expect(bytes).toBeGreaterThan(64 * MIB);
    expect(c.err.join('\n')).toContain(`credence verify ${out} --max-bundle-mib ${Math.ceil(bytes / MIB)}`);

    const small = dirs.make();
    const smallStore = openSqliteStoreInDir(small);
    await appendEvents(smallStore, 3);
    await smallStore.close();
    const quiet = capture();
    expect(await exportCommand([STREAM, '--out', join(small, 'small.json'), '--data', small], quiet.io)).toBe(0);
    expect(quiet.err.join('\n')).not.toContain('--max-bundle-mib');
    expect(readFileSync(join(small, 'small.json'), 'utf8').length).toBeLessThan(64 * MIB);
  }, 60_000);
});
