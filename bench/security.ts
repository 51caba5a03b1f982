import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CredentialKind } from '../domain/crypto/credential.ts';
import { EmbeddedSecureEnvironment, secureEnvironmentConfigForDataDir } from '../adapters/driven/secure-environment/index.ts';
import { associationRig, clock, random } from './association-rig.ts';
import { measureFor, rate } from './stats.ts';

/**
 * Remote provisionings/s (all five messages, both ends) and association handshakes/s (three messages, both
 * ends), per credential kind, on the embedded Secure Environment in memory and on disk. Keys made by each run
 * are destroyed after it, so the key store stays the same size throughout.
 */
const KINDS: readonly CredentialKind[] = ['psk256', 'ed25519', 'p256'];
const BUDGET_MS = 1_000;

const openStores = (onDisk: boolean) => {
  if (!onDisk) {
    const memory = () => EmbeddedSecureEnvironment.open({ database: ':memory:', kek: { source: 'ephemeral' } }, { now: clock, random });
    return { infra: memory(), node: memory(), cleanup: () => undefined };
  }
  const dirs = [mkdtempSync(join(tmpdir(), 'credence-bench-infra-')), mkdtempSync(join(tmpdir(), 'credence-bench-node-'))];
  const [infra, node] = dirs.map((d) => EmbeddedSecureEnvironment.open(secureEnvironmentConfigForDataDir(d), { now: clock, random })) as [
    EmbeddedSecureEnvironment,
    EmbeddedSecureEnvironment,
  ];
  return { infra, node, cleanup: () => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })) };
};

const benchKind = async (kind: CredentialKind, onDisk: boolean, report: (line: string) => void) => {
  const { infra, node, cleanup } = openStores(onDisk);
  // Asymmetric bootstrap of the same kind as the credential (a P-256 IDevID-style key for PSK credentials).
  const bootstrapKind = kind === 'psk256' ? 'p256' : kind;
  const rig = await associationRig(infra, node, kind, bootstrapKind);
  const where = onDisk ? 'on disk' : 'in memory';
  const provisioning = await measureFor(BUDGET_MS, rig.provisioning);
  report(`remote provisioning, ${kind} credential (${bootstrapKind} bootstrap, SE ${where}): ${rate(provisioning.count, provisioning.ms)}`);

  const handshakes = await measureFor(BUDGET_MS, await rig.handshakes());
  report(`association handshake, ${kind} credential (SE ${where}): ${rate(handshakes.count, handshakes.ms)}`);
  infra.close();
  node.close();
  cleanup();
};

export async function benchSecurity(report: (line: string) => void): Promise<void> {
  for (const onDisk of [false, true]) for (const kind of KINDS) await benchKind(kind, onDisk, report);
}
