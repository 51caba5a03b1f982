import { execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, rmSync, statSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { issuedNotInLog } from '../adapters/runtime/pki-issued.ts';
import type { CaId } from '../domain/x509/issuing-ca.ts';

/**
 * The start's read of a CA's issued-certificates journal (`<data>/pki/<ca>.issued.jsonl`, pki-issued.ts
 * issuedNotInLog) at CREDENCE_ISSUED_LINES lines (default 100,000, about 2 KiB each as in service): its time and
 * the peak RSS of a process that does only that read, each in a fresh child so that one figure does not carry the
 * last's heap. Three starts: every certificate live; 60 % of them expired (the first start after they expired,
 * which compacts the journal); and the start after that one.
 *
 *   node --expose-gc --import tsx bench/pki-issued-journal.ts
 */

const CA = 'bench-ca' as CaId;
const NOW = Date.parse('2030-01-01T00:00:00Z');
const DAY = 86_400_000;
/** A P-256 certificate's DER as base64url is about 700 characters; the summary and `issue` carry it twice. */
const DER = 'A'.repeat(700);

const line = (i: number, expired: boolean): string => {
  const serialNumber = (0x10_0000_0000 + i).toString(16);
  const credentialId = `cred-${i}`;
  const notAfterMs = expired ? NOW - 400 * DAY : NOW + 365 * DAY;
  const notAfter = new Date(notAfterMs).toISOString();
  // The trim judges at the newest line's issue when the clock reads later: the live ones were issued an hour ago.
  const issuedAt = new Date(Math.min(notAfterMs - 90 * DAY, NOW - 3_600_000)).toISOString();
  const issue = {
    credentialId,
    ownerId: `node-${i}`,
    certificate: { issuingCa: CA, serialNumber, notAfter, notBefore: issuedAt, subject: `CN=node-${i}`, der: DER, summary: DER },
  };
  return `${JSON.stringify({ serialNumber, credentialId, notAfter, issuedAt, issue })}\n`;
};

/** Writes a journal of `lines` lines, the first `expiredShare` of them expired at NOW. */
const writeJournal = (dataDir: string, lines: number, expiredShare: number): string => {
  mkdirSync(join(dataDir, 'pki'), { recursive: true, mode: 0o700 });
  const path = join(dataDir, 'pki', `${CA}.issued.jsonl`);
  const fd = openSync(path, 'w', 0o600);
  try {
    writeSync(fd, `${JSON.stringify({ version: 1, caId: CA })}\n`);
    let batch: string[] = [];
    for (let i = 0; i < lines; i++) {
      batch.push(line(i, i < lines * expiredShare));
      if (batch.length === 1000) {
        writeSync(fd, batch.join(''));
        batch = [];
      }
    }
    writeSync(fd, batch.join(''));
  } finally {
    closeSync(fd);
  }
  return path;
};

/** In the child: one start's read, its time and the process's peak RSS. */
const readOnce = (dataDir: string): void => {
  const rssBefore = process.memoryUsage().rss;
  const started = performance.now();
  const { count } = issuedNotInLog(dataDir, CA, NOW, () => false, () => false);
  const ms = performance.now() - started;
  const peak = process.resourceUsage().maxRSS * 1024;
  process.stdout.write(JSON.stringify({ ms, count, rssBeforeMiB: rssBefore / 2 ** 20, peakRssMiB: peak / 2 ** 20 }));
};

export async function benchPkiIssuedJournal(report: (line: string) => void): Promise<void> {
  const lines = Number(process.env['CREDENCE_ISSUED_LINES'] ?? 100_000);
  const self = fileURLToPath(import.meta.url);
  const start = (dataDir: string) =>
    JSON.parse(execFileSync(process.execPath, ['--import', 'tsx', self, '--read', dataDir], { encoding: 'utf8', maxBuffer: 1 << 20 })) as {
      ms: number;
      count: number;
      rssBeforeMiB: number;
      peakRssMiB: number;
    };
  const say = (what: string, path: string, r: ReturnType<typeof start>, sizeBefore: number) =>
    report(
      `${what}: ${(sizeBefore / 2 ** 20).toFixed(0)} MiB read in ${r.ms.toFixed(0)} ms, ${r.count} named, ` +
        `RSS ${r.rssBeforeMiB.toFixed(0)} MiB before the read, peak ${r.peakRssMiB.toFixed(0)} MiB; file after: ${(statSync(path).size / 2 ** 20).toFixed(0)} MiB`,
    );
  for (const expiredShare of [0, 0.6]) {
    const dataDir = mkdtempSync(join(tmpdir(), 'credence-bench-issued-'));
    try {
      const path = writeJournal(dataDir, lines, expiredShare);
      const size = statSync(path).size;
      say(`${lines} lines, ${expiredShare * 100} % expired, first start`, path, start(dataDir), size);
      if (expiredShare > 0) {
        const after = statSync(path).size;
        say(`${lines} lines, ${expiredShare * 100} % expired, next start`, path, start(dataDir), after);
      }
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  if (process.argv[2] === '--read') readOnce(process.argv[3]!);
  else await benchPkiIssuedJournal((l) => process.stdout.write(`  ${l}\n`));
}
