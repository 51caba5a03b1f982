import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { readTextFile } from '../adapters/runtime/bounded-files.ts';
import { run as verifyCommand } from '../bin/commands/verify.ts';
import { duplicateNameIssue } from '../domain/json-duplicate-names.ts';
import { EVIDENCE_BUNDLE_FORMAT_V1, formatVerifierKey, verifyEvidenceBundle } from '../domain/transparency/index.ts';
import { capture } from './support/cli.ts';
import { evidenceLog, loggedEvent } from './support/evidence-bundle.ts';
import { fixedSigner, keyOf, tempDirs } from './transparency-fixtures.ts';

/*
 * Review 30. D3: the verifier accepted bundle text that differs from what was logged. Members outside the format
 * (at the top, in an entry, in an event beside data and metadata) were dropped by the parser, and numbers whose text
 * is not their value's (`2.0000000000000001`, `1e-400` for 0, `9007199254740993` for the logged 9007199254740992)
 * verified, since the leaf hash covers the parsed value while another tool reads the file otherwise. D4: a bundle
 * file that is not UTF-8 verified, its bad bytes replaced by U+FFFD (Buffer.toString).
 */

const dirs = tempDirs();
afterEach(() => dirs.cleanup());

const signer = fixedSigner(1);
const KEY = formatVerifierKey(keyOf(signer));
const BIG = 9007199254740992; // 2^53: 9007199254740993 parses to it

const events = [0, 1, 2].map((i) => loggedEvent(i, { index: i, big: BIG, label: i === 1 ? 'caf\uFFFD' : `event ${i}` }));

const genuine = (): Promise<Record<string, any>> => evidenceLog(events, signer).bundle();

const write = (content: string | Buffer): string => {
  const file = join(dirs.make(), 'bundle.json');
  writeFileSync(file, content);
  return file;
};

const verify = async (file: string, ...more: string[]) => {
  const c = capture();
  return { code: await verifyCommand([file, '--key', KEY, ...more], c.io), out: c.out.join('\n'), err: c.err.join('\n') };
};

describe('a genuine bundle', () => {
  it('verifies as credence export writes it (indented), and compact; a v1 bundle still reads (completeness_unproven)', async () => {
    const bundle = await genuine();
    expect((await verify(write(`${JSON.stringify(bundle, null, 2)}\n`))).code).toBe(0);
    expect((await verify(write(JSON.stringify(bundle)))).code).toBe(0);
    const { streamHead: _, ...rest } = bundle;
    const v1 = await verify(write(JSON.stringify({ ...rest, format: EVIDENCE_BUNDLE_FORMAT_V1, notYetCheckpointed: 0 })));
    expect(v1.code).toBe(1);
    expect(v1.err).toMatch(/^FAILED \(completeness_unproven\)/);
  });
});

describe('members the bundle format does not define', () => {
  const cases: [string, (b: Record<string, any>) => void, string][] = [
    ['at the top', (b) => (b.comment = 'the operator approved this'), 'comment'],
    ['in an entry', (b) => (b.entries[1].approvedBy = 'ca-admin'), 'entries.1.approvedBy'],
    ['in an event, beside data and metadata', (b) => (b.entries[2].event.reason = 'keyCompromise'), 'entries.2.event.reason'],
  ];
  it.each(cases)('are refused %s: exit 2, naming the path and unknown_member', async (_where, edit, path) => {
    const bundle = await genuine();
    edit(bundle);
    const refused = await verify(write(JSON.stringify(bundle, null, 2)));
    expect(refused.code, refused.out + refused.err).toBe(2);
    expect(refused.err).toBe(`FAILED (malformed): not an evidence bundle: ${path}: unknown_member: a member the bundle format does not define, which no proof covers`);
    expect(verifyEvidenceBundle(bundle, { trustedKey: keyOf(signer) })).toMatchObject({ ok: false, reason: 'malformed', issue: { path, rule: 'unknown_member' } });
  });

  it('are named cut to 64 characters, never echoed whole', async () => {
    const bundle = await genuine();
    bundle[`x${'y'.repeat(10_000)}`] = 1;
    const result = verifyEvidenceBundle(bundle, { trustedKey: keyOf(signer) });
    expect(result.ok === false && result.issue?.path).toBe(`x${'y'.repeat(63)}…`);
  });
});

describe('number tokens that are not the serialization of their value', () => {
  const cases: [string, string, string, string][] = [
    ['2.0000000000000001 for 2', '"index": 2,', '"index": 2.0000000000000001,', 'entries.2.event.data.index'],
    ['1e-400 for 0', '"index": 0,', '"index": 1e-400,', 'entries.0.event.data.index'],
    ['9007199254740993 for the logged 9007199254740992', `"big": ${BIG},`, '"big": 9007199254740993,', 'entries.0.event.data.big'],
    ['-0 for 0', '"leafIndex": 0,', '"leafIndex": -0,', 'entries.0.leafIndex'],
    ['1.0 for 1', '"index": 1,', '"index": 1.0,', 'entries.1.event.data.index'],
  ];
  it.each(cases)('are refused, %s: exit 2, naming the path and number_not_canonical', async (_what, from, to, path) => {
    const text = JSON.stringify(await genuine(), null, 2);
    expect(text).toContain(from);
    const refused = await verify(write(text.replace(from, to)));
    expect(refused.code, refused.out + refused.err).toBe(2);
    expect(refused.err).toMatch(new RegExp(`^error: .*bundle\\.json: ${path.replace(/\./g, '\\.')}: number_not_canonical: `));
  });

  it('are found in one linear pass, beside the duplicate names, and true, false and null are no numbers', () => {
    const rules = { canonicalNumbers: true };
    expect(duplicateNameIssue('{"a":[1,-2.5,1e+21,5e-324,true,false,null,"1.0"],"b":{"c":0}}', rules)).toBeUndefined();
    expect(duplicateNameIssue('{"a":[1,{"b":1E2}]}', rules)).toEqual(expect.objectContaining({ path: 'a.1.b', rule: 'number_not_canonical' }));
    expect(duplicateNameIssue('{"a":1.0}')).toBeUndefined(); // only when asked: HTTP bodies are unchanged
    const many = `[${Array.from({ length: 500_000 }, (_, i) => String(i * 1.5)).join(',')},1.50]`;
    const started = performance.now();
    expect(duplicateNameIssue(many, rules)).toMatchObject({ path: '500000', rule: 'number_not_canonical' });
    expect(performance.now() - started).toBeLessThan(5_000);
  });
});

describe('a bundle file that is not UTF-8', () => {
  it('is refused (exit 2), naming the file and invalid_utf8, where its bad bytes once read as U+FFFD', async () => {
    const text = JSON.stringify(await genuine(), null, 2);
    // The logged label holds U+FFFD; the file holds the byte 0xFF in its place, which is no UTF-8.
    const bytes = Buffer.from(text, 'utf8');
    const at = bytes.indexOf(Buffer.from('caf\uFFFD', 'utf8'));
    expect(at).toBeGreaterThan(0);
    const bad = Buffer.concat([bytes.subarray(0, at + 3), Buffer.from([0xff]), bytes.subarray(at + 3 + 3)]);
    const file = write(bad);
    const refused = await verify(file);
    expect(refused.code, refused.out + refused.err).toBe(2);
    expect(refused.err).toBe(`error: ${file}: invalid_utf8: the file is not valid UTF-8 text (RFC 8259 8.1)`);
    expect((await verify(write(bytes))).code).toBe(0);
  });

  it('is refused for every text file the readers take (a checkpoint note), and a byte-order mark is still kept', () => {
    const note = join(dirs.make(), 'checkpoint.txt');
    writeFileSync(note, Buffer.from([0x6f, 0x6b, 0x0a, 0xc3, 0x28, 0x0a]));
    expect(readTextFile(note, 1024)).toEqual({ ok: false, kind: 'invalid_utf8', message: `${note}: invalid_utf8: the file is not valid UTF-8 text (RFC 8259 8.1)` });
    writeFileSync(note, Buffer.from([0xef, 0xbb, 0xbf, 0x41]));
    expect(readTextFile(note, 1024)).toEqual({ ok: true, value: '\uFEFFA' });
  });
});
