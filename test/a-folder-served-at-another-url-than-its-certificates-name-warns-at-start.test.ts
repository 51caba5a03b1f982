import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRootCa } from '../adapters/driven/pki/index.ts';
import { openDataFolderSecureEnvironment, systemRandom } from '../adapters/runtime/index.ts';
import { register } from '../bin/commands/device.ts';
import { operatorCommand } from '../bin/commands/device/steps.ts';
import type { Io } from '../bin/io.ts';
import { runCommands } from '../bin/program.ts';
import { ownerView } from '../domain/ports/index.ts';
import { startTestService, type TestService } from './support/service.ts';
import { tempDirs } from './support/temp-dirs.ts';

// Review 54 finding 6: certificates name their CRL and OCSP under the publicUrl of the start that issued them. The
// README's `PORT=9000 npm start` (or `--port 0`) on a folder whose certificates name :8080 left every relying party
// without revocation status, and nothing said so. The start now says it at warn, naming both URLs.

// One folder for the whole file: each test serves the folder the first start issued a certificate from.
const folders = tempDirs('credence-moved-url-');
const folder = folders.make;
afterAll(folders.cleanup);
const MOVED = 'certificates issued from this data folder name';

const device = async (argv: string[]): Promise<number> => {
  const io: Io = { out: () => undefined, err: () => undefined, env: {} };
  return runCommands([register], ['device', ...argv], io);
};

interface LogLine { readonly level: number; readonly msg: string; readonly publicUrl?: string; readonly certificatesUrl?: string }
const movedWarnings = (svc: TestService): LogLine[] =>
  svc.logs().map((l) => JSON.parse(l) as LogLine).filter((l) => l.msg.startsWith(MOVED));

describe('a data folder whose certificates name another URL than the one it is served at', () => {
  let data: string;
  let issuedAt: string;
  beforeAll(async () => {
    data = folder();
    const se = openDataFolderSecureEnvironment(data, { now: () => new Date() });
    try {
      await createRootCa({ dataDir: data, se: ownerView(se, 'maf:infrastructure'), id: 'default', kind: 'p256', now: new Date(), random: systemRandom });
    } finally {
      se.close();
    }
    const svc = await startTestService({ dir: data });
    try {
      issuedAt = svc.url;
      const operator = { url: svc.url, token: svc.tokens.operator };
      const now = new Date();
      await operatorCommand(operator, 'createSubscription', {
        subscriptionId: 'sub-mv', subscriber: 'City Utilities', notBefore: now.toISOString(), notAfter: new Date(now.getTime() + 365 * 86_400_000).toISOString(),
      });
      const dir = join(folder(), 'meter-mv');
      expect(await device(['init', '--node-id', 'meter-mv', '--kind', 'ed25519', '--dir', dir, '--server', svc.url, '--token', operator.token])).toBe(0);
      await operatorCommand(operator, 'enrolNode', { nodeId: 'meter-mv', subscriptionId: 'sub-mv', cseId: '/meter-mv-cse' });
      expect(await device(['provision', '--dir', dir, '--credential-id', 'meter-mv-svc', '--kind', 'ed25519', '--server', svc.url])).toBe(0);
      // Served again at the URL its certificate names: nothing to say.
      await svc.restart();
      expect(movedWarnings(svc)).toEqual([]);
    } finally {
      await svc.close();
    }
  }, 120_000);

  it('served on another port, the start warns naming both URLs and what breaks', async () => {
    const svc = await startTestService({ dir: data });
    try {
      expect(svc.url).not.toBe(issuedAt);
      const [warning, ...more] = movedWarnings(svc);
      expect(more).toEqual([]);
      expect(warning).toMatchObject({ level: 40, publicUrl: svc.url, certificatesUrl: issuedAt });
      expect(warning!.msg).toContain(`name ${issuedAt} for their CRL and OCSP`);
      expect(warning!.msg).toContain(`serves at ${svc.url}`);
      expect(warning!.msg).toMatch(/cannot reach the CRL or OCSP/);
    } finally {
      await svc.close();
    }
  }, 60_000);

  it('given the publicUrl its certificates name, on whatever port, the start says nothing of it', async () => {
    const svc = await startTestService({ dir: data, config: { publicUrl: issuedAt } });
    try {
      expect(svc.url).not.toBe(issuedAt);
      // The folder still holds the certificate: the warning is absent because the URLs agree, not for want of one.
      expect(await svc.service.context.credence.store.readStream('credential-meter-mv-svc')).not.toEqual([]);
      expect(movedWarnings(svc)).toEqual([]);
    } finally {
      await svc.close();
    }
  }, 60_000);
});
