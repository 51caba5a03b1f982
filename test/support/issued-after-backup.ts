import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FakeClock } from '../../adapters/driven/clock/index.ts';
import { createRootCa } from '../../adapters/driven/pki/index.ts';
import { Device } from '../../adapters/protocols/procedures/index.ts';
import { openCredence, type Credence } from '../../adapters/runtime/index.ts';
import { command } from '../../domain/commands/index.ts';
import { ownerView, type OwnedSecureEnvironment } from '../../domain/ports/index.ts';
import type { IssuingCa } from '../../domain/x509/issuing-ca.ts';
import { memorySecureEnvironment, seededRandom } from '../crypto-fixtures.ts';
import { at, operator, profile, T0 } from './fleet.ts';
import { copyEventStore, moveTransparencyLogAside } from './restored-folder.ts';

export const BASE_URL = 'https://credence.example';

/** A line of `<data>/pki/default.issued.jsonl`. */
export interface JournalLine {
  readonly serialNumber: string;
  readonly credentialId: string;
  readonly issue: Record<string, unknown>;
}

/**
 * A data folder with a CA whose devices are provisioned remotely, a backup folder beside it, and what the tests of a
 * certificate issued after a backup do with them (review 247's journal, review 264's recipe). `name` seeds every key.
 */
export const issuedAfterBackupWorld = (name: string) => {
  const dir = mkdtempSync(join(tmpdir(), `credence-${name}-`));
  const backup = mkdtempSync(join(tmpdir(), `credence-${name}-backup-`));
  const clock = new FakeClock(T0);
  const infraSe = memorySecureEnvironment(`${name}/infra`, () => clock.now());
  const infra: OwnedSecureEnvironment = ownerView(infraSe, 'maf:infrastructure');
  const ses: { close(): void }[] = [infraSe];
  const devices = new Map<string, Device>();
  let ca: IssuingCa | undefined;
  let credence: Credence | undefined;
  let opens = 0;
  const world = {
    dir,
    backup,
    clock,
    infra,
    ca: (): IssuingCa => {
      if (ca === undefined) throw new Error('createCa first');
      return ca;
    },
    createCa: async (): Promise<IssuingCa> =>
      (ca = await createRootCa({ dataDir: dir, se: infra, id: 'default', kind: 'p256', now: clock.now(), random: seededRandom(`${name}/ca`) })),
    open: (): Credence =>
      (credence = openCredence({
        location: { dir },
        clock,
        security: { se: infraSe, random: seededRandom(`${name}/random/${++opens}`), actor: operator, pki: { cas: [world.ca()], baseUrl: BASE_URL } },
      })),
    current: (): Credence | undefined => credence,
    close: async (): Promise<void> => {
      await credence?.close();
      credence = undefined;
    },
    device: (nodeId: string): Device => {
      let d = devices.get(nodeId);
      if (d === undefined) {
        const se = memorySecureEnvironment(`${name}/${nodeId}`, () => clock.now());
        ses.push(se);
        d = new Device({ nodeId, se, now: () => clock.now(), random: seededRandom(`${name}/${nodeId}/protocol`) });
        devices.set(nodeId, d);
      }
      return d;
    },
    subscribe: (c: Credence) =>
      c.engine.execute(command('createSubscription', { subscriptionId: 'sub-1', subscriber: 'City Utilities', notBefore: T0, notAfter: at(2 * 365) }, { actor: operator })),
    /** Pre-provisioned with its bootstrap credential `<nodeId>-boot`, and enrolled under sub-1. */
    enrol: async (c: Credence, nodeId: string): Promise<void> => {
      const { procedures } = await c.security();
      await procedures.preProvision({ device: world.device(nodeId), profile, bootstrapCredentialId: `${nodeId}-boot`, kind: 'ed25519', validity: { notBefore: T0, notAfter: at(5 * 365) } });
      await c.engine.execute(command('enrolNode', { nodeId, subscriptionId: 'sub-1', cseId: `/${nodeId}-cse` }, { actor: operator }));
    },
    provision: async (c: Credence, nodeId: string, credentialId: string): Promise<void> => {
      const { procedures } = await c.security();
      await procedures.provisionRemotely({ device: world.device(nodeId), credentialId, kind: 'p256' });
    },
    serialOf: async (c: Credence, credentialId: string): Promise<string> => {
      const issued = (await c.engine.entity('credential', credentialId)).events.find((e) => e.event.type === 'CredentialIssued')?.event;
      if (issued?.type !== 'CredentialIssued') throw new Error(`no CredentialIssued for ${credentialId}`);
      return issued.data.certificate!.serialNumber!;
    },
    journal: (): JournalLine[] =>
      readFileSync(join(dir, 'pki', 'default.issued.jsonl'), 'utf8')
        .split('\n')
        .slice(1)
        .filter((l) => l !== '')
        .map((l) => JSON.parse(l) as JournalLine),
    /** The events backed up (the folder closed first). */
    backUp: (): void => copyEventStore(dir, backup),
    /** An events-only restore from the backup, the transparency log moved aside (README, step 4). */
    restoreEvents: (): void => {
      copyEventStore(backup, dir);
      moveTransparencyLogAside(dir, backup);
    },
    dispose: async (): Promise<void> => {
      await world.close();
      for (const se of ses) se.close();
      rmSync(dir, { recursive: true, force: true });
      rmSync(backup, { recursive: true, force: true });
    },
  };
  return world;
};
