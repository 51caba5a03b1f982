import { describe, expect, it } from 'vitest';
import { DAY, FakeClock } from '../adapters/driven/clock/index.ts';
import { createRootCa } from '../adapters/driven/pki/index.ts';
import { openDataFolderSecureEnvironment, systemRandom } from '../adapters/runtime/index.ts';
import { ownerView } from '../domain/ports/index.ts';
import { issuerOf } from '../domain/x509/issuance/index.ts';
import { runCli } from './support/cli.ts';
import { derOfPem, hasOpenssl } from './support/openssl.ts';
import { intermediateUnderOpenSslRoot } from './support/openssl-intermediate-ca.ts';
import { pkiOf } from './support/pki-test-ca.ts';
import { startTestService } from './support/service.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

/*
 * Found in review 231 (3): a folder whose intermediate ended in 5 days logged at start "CA sub-2 certifies node
 * credentials only until <a year ago>… Renew it before then", a date already past, while the CA could certify nothing
 * (a node certificate lasts as long as its credential, a year, and never outlives the CA's chain: `ca_expires_first`);
 * and `ca install` had taken that certificate without a word. Now the start says, at error level, that the CA certifies
 * no node credential now, naming the credential's lifetime and the chain's end; and `ca install` warns of it (exit 0).
 */
const SHORT = 'sub-short';
const folder = temporaryFolders('credence-ca-none-now-');

const errors = (logs: readonly string[]) =>
  logs.map((line) => JSON.parse(line) as Record<string, unknown>).filter((line) => line['level'] === 50 && line['caId'] === SHORT);

describe('a CA whose chain ends within a credential lifetime', () => {
  it('is said at start, at error level, to certify no node credential now, not to certify until a past date; once', async () => {
    const now = new Date(Math.floor(Date.now() / 1000) * 1000);
    const dir = folder();
    const se = openDataFolderSecureEnvironment(dir, { now: () => now });
    try {
      const infra = ownerView(se, 'maf:infrastructure');
      await createRootCa({ dataDir: dir, se: infra, id: 'default', kind: 'p256', now, random: systemRandom });
      await createRootCa({ dataDir: dir, se: infra, id: SHORT, kind: 'p256', now, random: systemRandom, validityDays: 300 });
    } finally {
      se.close();
    }
    const clock = new FakeClock(now);
    const svc = await startTestService({ dir, clock });
    try {
      const endsAt = new Date(now.getTime() + 300 * DAY).toISOString();
      const [said, ...again] = errors(svc.logs());
      expect(again).toEqual([]);
      expect(said!['endsAt']).toBe(endsAt);
      expect(String(said!['msg'])).toContain(`CA ${SHORT} certifies no node credential now`);
      expect(String(said!['msg'])).toContain('(365 days)');
      expect(String(said!['msg'])).toContain(`ends at ${endsAt}`);
      expect(String(said!['msg'])).toContain(`credence ca renew --id ${SHORT};`);
      expect(svc.logs().join('\n')).not.toContain(`CA ${SHORT} certifies node credentials only until`);
      // Said once however many ticks follow.
      clock.advance(DAY);
      await pkiOf(svc).tick();
      expect(errors(svc.logs())).toHaveLength(1);
    } finally {
      await svc.close();
    }
  }, 60_000);

  const { files, data, init, sign } = intermediateUnderOpenSslRoot('credence-ca-none-now-install-');

  it.runIf(hasOpenssl())('is installed by ca install with a warning saying so (exit 0); one lasting longer than a credential is not', async () => {
    await init('None Now Root', '3650');
    await sign('30', 'int-30.pem');
    const install = (certificate: string) =>
      runCli(['ca', 'install', '--data', data, '--id', 'sub-1', '--certificate', files.file(certificate), '--chain', files.file('root.pem')]);
    const warned = await install('int-30.pem');
    expect(warned.code, warned.err).toBe(0);
    const endsAt = issuerOf(derOfPem(files.read('int-30.pem').toString(), 'CERTIFICATE')).notAfter.toISOString();
    expect(warned.err).toContain('warning: CA sub-1 certifies no node credential now');
    expect(warned.err).toContain('(365 days)');
    expect(warned.err).toContain(`ends at ${endsAt}`);
    expect(warned.out).toContain('CA sub-1: installed');

    await sign('400', 'int-400.pem');
    const quiet = await install('int-400.pem');
    expect(quiet.code, quiet.err).toBe(0);
    expect(quiet.err).not.toContain('warning');
  }, 60_000);
});
