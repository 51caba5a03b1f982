import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { run as verifyCommand } from '../bin/commands/verify.ts';
import { formatVerifierKey, openCheckpoint, parseSignedNote, verifyEvidenceBundle } from '../domain/transparency/index.ts';
import { readSignedNote } from '../domain/transparency/note.ts';
import { capture } from './support/cli.ts';
import { evidenceLog, loggedEvent } from './support/evidence-bundle.ts';
import { fixedSigner, keyOf, tempDirs } from './transparency-fixtures.ts';

/*
 * Review 217, finding 4: a signed note that did not parse said only "is not a well-formed signed note", with no rule,
 * and a bundle holding one (its checkpoint or stream head with CRLF line endings, without the blank line, with a
 * second trailing newline) exited 1 as if the log had failed, where every other malformed member of a file of the
 * caller's exits 2. The parser now says why, the bundle names the member, and such a bundle file exits 2.
 */
const dirs = tempDirs();
afterEach(() => dirs.cleanup());

const signer = fixedSigner(1);
const key = keyOf(signer);
const SIZE = 4;
/** A log of SIZE events, all of the bundle's stream. */
const log = evidenceLog(Array.from({ length: SIZE }, (_, i) => loggedEvent(i)), signer);
const checkpoint = () => log.checkpoint();

const crlf = (note: string) => note.replace(/\n/g, '\r\n');
const withoutBlankLine = (note: string) => note.replace('\n\n', '\n');
const secondNewline = (note: string) => `${note}\n`;

describe('the note parser says why a note is not a signed note', () => {
  it('names the rule: carriage return, no blank line, a blank line at the end, a line that is no signature', async () => {
    const good = await checkpoint();
    expect(readSignedNote(good)).toMatchObject({ ok: true });
    expect(readSignedNote(crlf(good))).toMatchObject({ ok: false, rule: 'carriage_return', message: expect.stringContaining('line 1 ends in a carriage return') });
    expect(readSignedNote(withoutBlankLine(good))).toMatchObject({ ok: false, rule: 'no_blank_line' });
    expect(readSignedNote(secondNewline(good))).toMatchObject({ ok: false, rule: 'blank_line_at_end' });
    expect(readSignedNote(good.slice(0, -1))).toMatchObject({ ok: false, rule: 'no_final_newline' });
    expect(readSignedNote(good.replace('\u2014 ', '- '))).toMatchObject({ ok: false, rule: 'signature_line', message: expect.stringContaining('line 6') });
    expect(readSignedNote(good.replace('Z\n', 'Z\u0007\n'))).toMatchObject({ ok: false, rule: 'control_character' });
  });

  it('changes nothing of what a well-formed note is: parseSignedNote still answers as before', async () => {
    const good = await checkpoint();
    expect(parseSignedNote(good)?.text).toBe(good.slice(0, good.indexOf('\n\n') + 1));
    for (const bad of [crlf(good), withoutBlankLine(good), secondNewline(good), good.slice(0, -1), '', '\n\n']) expect(parseSignedNote(bad)).toBeUndefined();
  });

  it('openCheckpoint says the rule', async () => {
    const result = openCheckpoint(crlf(await checkpoint()), key);
    expect(result).toMatchObject({ ok: false, reason: 'malformed_checkpoint', issue: { rule: 'carriage_return' } });
    expect(!result.ok && result.message).toMatch(/^the checkpoint is not a well-formed signed note: carriage_return: /);
  });
});

/** A bundle of STREAM at tree size 4, its notes as `edit` leaves them. */
const bundle = (edit: { checkpoint?: (n: string) => string; streamHead?: (n: string) => string } = {}) => log.bundle(edit);

const verify = async (files: Record<string, string>, args: string[]) => {
  const dir = dirs.make();
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  const c = capture();
  const code = await verifyCommand([...args.map((a) => a.replace('{}', dir)), '--key', formatVerifierKey(key)], c.io);
  return { code, err: c.err.join('\n') };
};

describe('a bundle whose checkpoint or stream head is no signed note', () => {
  it('names the member and the rule', async () => {
    expect(verifyEvidenceBundle(await bundle(), { trustedKey: key })).toMatchObject({ ok: true });
    const cp = verifyEvidenceBundle(await bundle({ checkpoint: crlf }), { trustedKey: key });
    expect(cp).toMatchObject({ ok: false, reason: 'malformed_checkpoint', issue: { path: 'checkpoint', rule: 'carriage_return' } });
    expect(!cp.ok && cp.message).toMatch(/^checkpoint: the checkpoint is not a well-formed signed note: carriage_return: /);
    const head = verifyEvidenceBundle(await bundle({ streamHead: withoutBlankLine }), { trustedKey: key });
    expect(head).toMatchObject({ ok: false, reason: 'malformed_stream_head', issue: { path: 'streamHead', rule: 'no_blank_line' } });
    expect(!head.ok && head.message).toMatch(/^streamHead: the stream head is not a well-formed signed note: no_blank_line: /);
  });

  for (const [name, edit, rule] of [
    ['checkpoint with CRLF', { checkpoint: crlf }, /checkpoint: .*carriage_return/],
    ['checkpoint without the blank line', { checkpoint: withoutBlankLine }, /checkpoint: .*no_blank_line/],
    ['checkpoint with a second trailing newline', { checkpoint: secondNewline }, /checkpoint: .*blank_line_at_end/],
    ['stream head with CRLF', { streamHead: crlf }, /FAILED \(malformed_stream_head\): streamHead: .*carriage_return/],
  ] as const) {
    it(`a bundle file, ${name}: exit 2, as any malformed member of a file of the caller's`, async () => {
      const r = await verify({ 'b.json': JSON.stringify(await bundle(edit)) }, ['{}/b.json']);
      expect(r.code, r.err).toBe(2);
      expect(r.err).toMatch(rule);
    });
  }

  it("a bundle's --checkpoint SAVED with CRLF: exit 2 saying the rule", async () => {
    const r = await verify({ 'b.json': JSON.stringify(await bundle()), 'saved.txt': crlf(await checkpoint()) }, ['{}/b.json', '--checkpoint', '{}/saved.txt']);
    expect(r.code, r.err).toBe(2);
    expect(r.err).toMatch(/^error: --checkpoint: the checkpoint is not a well-formed signed note: carriage_return: /);
  });

  it('a --from or --to checkpoint file with CRLF (consistency, offline): exit 2 saying the rule', async () => {
    const good = await checkpoint();
    const r = await verify({ 'a.txt': crlf(good), 'b.txt': good, 'p.json': JSON.stringify({ first: SIZE, second: SIZE, hashes: [] }) }, ['--from', '{}/a.txt', '--to', '{}/b.txt', '--proof', '{}/p.json']);
    expect(r.code, r.err).toBe(2);
    expect(r.err).toMatch(/^error: --from: the checkpoint is not a well-formed signed note: carriage_return: line 1 ends in a carriage return/);
  });
});
