import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { atomicWriteTempName } from '../adapters/driven/files/atomic-write.ts';
import { removeAtomicWriteStrays } from '../adapters/driven/files/index.ts';
import { COMPACT_AT_LEAST, fileIssuedCertificates } from '../adapters/driven/pki/issued-certificates.ts';
import { ISSUED_KEPT_EXPIRED_MS, IssuedJournal, issuedNotInLog } from '../adapters/runtime/pki-issued.ts';
import { CredenceError } from '../domain/errors.ts';
import type { CaId } from '../domain/x509/issuing-ca.ts';

/*
 * The issued-certificates journal (`<data>/pki/<ca>.issued.jsonl`, review 247) grew by a line (about 2 KiB) for every
 * certificate ever issued, and every start read it all. Now the start's read drops the lines of certificates expired
 * a year (ISSUED_KEPT_EXPIRED_MS) before the clock's now, once they are most of the file: rewritten whole beside it
 * and renamed over it, so a crash leaves the old file or the new one. A live certificate's line is never dropped, and
 * the ledger's rules stand: a torn last line dropped, any other malformed line refusing the file.
 */

const CA = 'default' as CaId;
const NOW = Date.parse('2030-06-01T00:00:00Z');
const DAY = 86_400_000;
const roots: string[] = [];
afterAll(() => roots.forEach((r) => rmSync(r, { recursive: true, force: true })));

const dataDir = (): string => {
  const dir = mkdtempSync(join(tmpdir(), 'credence-issued-trim-'));
  roots.push(dir);
  mkdirSync(join(dir, 'pki'), { mode: 0o700 });
  return dir;
};
const journalOf = (dir: string): string => join(dir, 'pki', `${CA}.issued.jsonl`);
const HEADER = `${JSON.stringify({ version: 1, caId: CA })}\n`;

const issueOf = (i: number, notAfter: number) => ({
  credentialId: `cred-${i}`,
  certificate: { issuingCa: CA, serialNumber: (0x1000 + i).toString(16), notAfter: new Date(notAfter).toISOString(), der: `der-${i}` },
});
const lineOf = (i: number, notAfter: number): string => {
  const issue = issueOf(i, notAfter);
  const { serialNumber } = issue.certificate;
  return `${JSON.stringify({ serialNumber, credentialId: issue.credentialId, notAfter: issue.certificate.notAfter, issuedAt: new Date(Math.min(notAfter - 90 * DAY, NOW - 3_600_000)).toISOString(), issue })}\n`;
};

/** Long expired (past the year kept), expired within it, and live lines, in the order given. */
const EXPIRED = NOW - ISSUED_KEPT_EXPIRED_MS - DAY;
const JUST_EXPIRED = NOW - DAY;
const LIVE = NOW + 365 * DAY;
const EDGE = NOW - ISSUED_KEPT_EXPIRED_MS + 1; // expired, kept one millisecond more
const lines = (notAfters: readonly number[]): string[] => notAfters.map((notAfter, i) => lineOf(i, notAfter));
const write = (dir: string, body: readonly string[], tail = ''): void => writeFileSync(journalOf(dir), HEADER + body.join('') + tail, { mode: 0o600 });

/** The start's read at `now`: counts the live certificates the log lacks (here, every one). */
const start = (dir: string, now = NOW) => issuedNotInLog(dir, CA, now, () => false, () => false);

/** 1.5 x COMPACT_AT_LEAST long-expired lines among live and recently expired ones. */
const mostlyExpired = (): number[] =>
  Array.from({ length: COMPACT_AT_LEAST * 2 }, (_, i) => (i % 4 === 0 ? LIVE : i % 4 === 1 && i % 8 === 1 ? JUST_EXPIRED : i === 3 ? EDGE : EXPIRED));

describe('the issued-certificates journal at start', () => {
  it('drops the long-expired lines when they are most of it, keeping every other line as it was, in order, mode 0600', () => {
    const dir = dataDir();
    const notAfters = mostlyExpired();
    const body = lines(notAfters);
    write(dir, body);
    const live = notAfters.filter((t) => t > NOW).length;
    expect(notAfters.filter((t) => t === EXPIRED).length).toBeGreaterThan(COMPACT_AT_LEAST);

    expect(start(dir).count).toBe(live);
    const kept = body.filter((_, i) => notAfters[i] !== EXPIRED);
    expect(readFileSync(journalOf(dir), 'utf8')).toBe(HEADER + kept.join(''));
    expect(statSync(journalOf(dir)).mode & 0o777).toBe(0o600);
    expect(readdirSync(join(dir, 'pki'))).toEqual([`${CA}.issued.jsonl`]);

    // The next start reads what is left and names the same certificates; nothing more to drop.
    expect(start(dir).count).toBe(live);
    expect(readFileSync(journalOf(dir), 'utf8')).toBe(HEADER + kept.join(''));
  });

  it('drops no line of a certificate live at the newest issue when the clock reads two years ahead (review 251)', () => {
    const dir = dataDir();
    const notAfters = mostlyExpired();
    const body = lines(notAfters);
    write(dir, body);

    // Every certificate here is expired two years on; the journal is judged at its newest line's issue instead.
    expect(start(dir, NOW + 730 * DAY).count).toBe(0);
    expect(readFileSync(journalOf(dir), 'utf8')).toBe(HEADER + body.filter((_, i) => notAfters[i] !== EXPIRED).join(''));
  });

  it('drops no live line when a certificate was issued on a clock 400 days ahead and the start reads that clock (review 253)', () => {
    const dir = dataDir();
    const body = lines(Array.from({ length: COMPACT_AT_LEAST * 2 - 1 }, () => NOW + 90 * DAY));
    const ahead = NOW + 400 * DAY;
    const issuedAhead = JSON.parse(lineOf(COMPACT_AT_LEAST * 2, ahead + 365 * DAY)) as Record<string, unknown>;
    write(dir, [...body, `${JSON.stringify({ ...issuedAhead, issuedAt: new Date(ahead).toISOString() })}\n`]);

    start(dir, ahead);
    expect(start(dir).count).toBe(COMPACT_AT_LEAST * 2);
  });

  it('leaves the file as it is while the expired lines are few, or not most of it', () => {
    for (const notAfters of [
      [...Array<number>(COMPACT_AT_LEAST - 1).fill(EXPIRED), LIVE],
      [...Array<number>(COMPACT_AT_LEAST + 10).fill(EXPIRED), ...Array<number>(COMPACT_AT_LEAST + 10).fill(LIVE)],
    ]) {
      const dir = dataDir();
      write(dir, lines(notAfters));
      const before = readFileSync(journalOf(dir), 'utf8');
      start(dir);
      expect(readFileSync(journalOf(dir), 'utf8')).toBe(before);
    }
  });

  it('keeps appending after a trim by the start, to the trimmed file, from a journal that appended before it', () => {
    const dir = dataDir();
    const notAfters = mostlyExpired();
    write(dir, lines(notAfters));
    const journal = new IssuedJournal(dir, () => new Date(NOW));
    journal.record(issueOf(9001, LIVE)); // this writer has measured the file: longer than it will be
    const live = notAfters.filter((t) => t > NOW).length + 1;
    expect(start(dir).count).toBe(live);
    expect(statSync(journalOf(dir)).size).toBeLessThan(HEADER.length + lines(notAfters).join('').length / 2);
    journal.record(issueOf(9002, LIVE));
    const serials: string[] = [];
    fileIssuedCertificates(dir, CA).read((r) => serials.push(r.serialNumber));
    expect(serials.slice(-2)).toEqual([(0x1000 + 9001).toString(16), (0x1000 + 9002).toString(16)]);
    expect(start(dir).count).toBe(live + 1);
  });

  it('reads the journal whole after a crash between writing the new file and renaming it over the old one', () => {
    const dir = dataDir();
    const notAfters = mostlyExpired();
    const body = lines(notAfters);
    write(dir, body);
    // What a compaction killed before its rename leaves: the new file complete, under its temp name, beside the old.
    const temp = join(dir, 'pki', atomicWriteTempName(`${CA}.issued.jsonl`, 999_999, new Uint8Array(6)));
    writeFileSync(temp, HEADER + body.filter((_, i) => notAfters[i] !== EXPIRED).join(''), { mode: 0o600 });

    const live = notAfters.filter((t) => t > NOW).length;
    expect(start(dir).count).toBe(live);
    expect(start(dir).count).toBe(live);
    // The temp is never read back; the data folder's next opening sweeps it once it is old and its process gone.
    utimesSync(temp, new Date(Date.now() - 3_600_000), new Date(Date.now() - 3_600_000));
    expect(removeAtomicWriteStrays(dir, ['pki'])).toEqual([join('pki', temp.split('/').pop()!)]);
    expect(existsSync(temp)).toBe(false);
  });

  it('still drops a torn last line, and trims what is before it', () => {
    const dir = dataDir();
    const notAfters = mostlyExpired();
    const body = lines(notAfters);
    write(dir, body, lineOf(5000, LIVE).slice(0, 40));
    expect(start(dir).count).toBe(notAfters.filter((t) => t > NOW).length);
    expect(readFileSync(journalOf(dir), 'utf8')).toBe(HEADER + body.filter((_, i) => notAfters[i] !== EXPIRED).join(''));
  });

  it('still refuses a malformed line before the last, naming the file and the line, and leaves the file as it was', () => {
    const dir = dataDir();
    const body = lines(mostlyExpired());
    body[7] = '{"serialNumber":"zz"}\n';
    write(dir, body);
    const before = readFileSync(journalOf(dir), 'utf8');
    let refusal: unknown;
    try {
      start(dir);
    } catch (error) {
      refusal = error;
    }
    expect(refusal).toBeInstanceOf(CredenceError);
    expect((refusal as CredenceError).code).toBe('validation');
    expect((refusal as Error).message).toContain(journalOf(dir));
    expect((refusal as Error).message).toContain('line 9');
    expect(readFileSync(journalOf(dir), 'utf8')).toBe(before);
  });
});
