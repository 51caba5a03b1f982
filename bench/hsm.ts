import { EmbeddedSecureEnvironment } from '../adapters/driven/secure-environment/embedded.ts';
import { Pkcs11SecureEnvironment } from '../adapters/driven/secure-environment/pkcs11/index.ts';
import type { CredentialKind } from '../domain/crypto/credential.ts';
import type { SecureEnvironment } from '../domain/ports/secure-environment.ts';
import { softHsm, softHsmMissing } from '../test/support/softhsm.ts';
import { associationRig, clock, MAF, random } from './association-rig.ts';
import { measureFor, rate } from './stats.ts';

/**
 * Issue 16: sign (Ed25519, P-256), P-256 ECDH and HMAC per second through PKCS#11 on SoftHSM2 next to the embedded
 * Secure Environment in memory, and association handshakes per second with the Registrar's (and Enrolment
 * Function's) keys in the token. The token is made in a temporary folder by the tests' SoftHSM2 support (module
 * path from CREDENCE_TEST_PKCS11_MODULE); skipped, saying why, when SoftHSM2 is not installed.
 */
const BUDGET_MS = 1_000;
const message = new TextEncoder().encode('a 64-byte message, about the size of a handshake transcript hash');

const measure = async (run: () => Promise<unknown>): Promise<string> => {
  const { count, ms } = await measureFor(BUDGET_MS, run);
  return rate(count, ms);
};

const primitives = async (name: string, se: SecureEnvironment, report: (line: string) => void) => {
  const ed = await se.generate(MAF, 'ed25519');
  const p256 = await se.generate(MAF, 'p256');
  const agreement = await se.generate(MAF, 'p256', { usage: 'agree' });
  const peer = (await se.describe(MAF, await se.generate(MAF, 'p256', { usage: 'agree' }))).publicKey as Uint8Array;
  const psk = await se.generate(MAF, 'psk256');
  report(`${name}: sign Ed25519 ${await measure(() => se.sign(MAF, ed, message))}, sign P-256 ${await measure(() => se.sign(MAF, p256, message))}, ` +
    `ECDH P-256 ${await measure(async () => se.destroy(MAF, await se.agree(MAF, agreement, peer)))}, HMAC-SHA256 ${await measure(() => se.mac(MAF, psk, message))}`);
};

/** Handshakes/s with the infrastructure's keys in `infra`; the node on an embedded Secure Environment (P-256 bootstrap). */
const handshakes = async (name: string, infra: SecureEnvironment, kind: CredentialKind, report: (line: string) => void) => {
  const node = EmbeddedSecureEnvironment.open({ database: ':memory:', kek: { source: 'ephemeral' } }, { now: clock, random });
  const rig = await associationRig(infra, node, kind, 'p256');
  const perSecond = await measure(await rig.handshakes());
  report(`association handshake, ${kind} credential, Registrar keys ${name}: ${perSecond}`);
  node.close();
};

export async function benchHsm(report: (line: string) => void): Promise<void> {
  if (softHsmMissing !== undefined) {
    report(`skipped: ${softHsmMissing.replace(/^PKCS#11 tests skipped: /, '')}`);
    return;
  }
  const hsm = softHsm();
  const token = hsm.token('bench');
  const embedded = EmbeddedSecureEnvironment.open({ database: ':memory:', kek: { source: 'ephemeral' } }, { now: clock, random });
  const pkcs11 = Pkcs11SecureEnvironment.open({ uri: token.uri('x-derivation=host') }, { random });
  try {
    await primitives('embedded SE (memory)', embedded, report);
    await primitives('PKCS#11 SoftHSM2', pkcs11, report);
    for (const kind of ['p256', 'ed25519', 'psk256'] as const) {
      await handshakes('in the embedded SE (memory)', embedded, kind, report);
      await handshakes('in SoftHSM2', pkcs11, kind, report);
    }
  } finally {
    pkcs11.close();
    embedded.close();
    hsm.cleanup();
  }
}
