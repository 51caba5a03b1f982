/**
 * Review 297: a hello's manufacturer chain may carry up to 4 certificates of 16 KB each, and path building ignored
 * those on no path, so a device's public chain with junk certificates added, sent under made-up Node-IDs, made each
 * pending run hold ~50 KB. A certificate neither on the validated path nor the trust anchor that path ends at is now
 * refused by the hello alone, alike for every hello and before the bootstrap is looked up (no oracle on the record);
 * a device that includes its root in its chain is still accepted.
 */
import { describe, expect, it } from 'vitest';
import type { BootstrapCredential } from '../adapters/protocols/enrolment/enrolment-function.ts';
import { TrustAnchors } from '../domain/x509/chain.ts';
import { toBase64url } from './crypto-fixtures.ts';
import { NODE_ID, provision, provisioningWorld, type ProvisioningWorld } from './provisioning-protocol.fixtures.ts';
import { refusalWithMessage as refusal } from './support/protocol-refusal.ts';
import { der, importPublicKey, intermediateCa, issue, rootCa } from './x509-fixtures.ts';

describe('a provisioning hello whose chain carries a certificate on no path to its trust anchor', async () => {
  const root = await rootCa();
  const otherRoot = await rootCa('CN=Other Manufacturer Root, O=Other');
  const deviceCa = await intermediateCa(root, 'CN=Acme Device CA');
  const unrelatedCa = await intermediateCa(otherRoot, 'CN=Unrelated CA, O=Other');
  const anchors = TrustAnchors.fromDer([der(root.cert), der(otherRoot.cert)]);

  /** A world whose bootstrap lookups are counted, the device's chain `[leaf, deviceCa]`, and a hello under another Node-ID. */
  const world = async () => {
    let lookups = 0;
    let resolved: ProvisioningWorld | undefined;
    const built = await provisioningWorld({
      bootstrapKind: 'p256',
      certificate: async (publicKey) => {
        const leaf = der(await issue(deviceCa, { subject: `CN=${NODE_ID}, O=Acme Meters`, publicKey: await importPublicKey('p256', publicKey) }));
        return { leaf, chain: [leaf, der(deviceCa.cert)] };
      },
      trustAnchors: anchors,
      ef: {
        resolveBootstrap: async (nodeId): Promise<BootstrapCredential | undefined> => {
          lookups++;
          return nodeId === NODE_ID && resolved ? { descriptor: resolved.bootstrap.descriptor } : undefined;
        },
      },
    });
    resolved = built;
    const session = await built.client.start({ credentialKind: 'p256' });
    return { world: built, hello: session.hello, lookups: () => lookups };
  };

  it('is refused certificate_rejected naming the rule, alike for the recorded node and a made-up one, before any lookup', async () => {
    const { world: w, hello, lookups } = await world();
    const chain = hello.certificateChain ?? [];
    const junk = [toBase64url(der(unrelatedCa.cert)), toBase64url(der(otherRoot.cert))];
    for (const extra of junk) {
      for (const nodeId of [NODE_ID, 'node-made-up-7']) {
        const refused = await refusal(() => w.ef.acceptHello({ ...hello, nodeId, certificateChain: [...chain, extra] }));
        expect(refused).toMatchObject({ step: 'provisioning.hello', reason: 'certificate_rejected', message: expect.stringContaining('certificate_on_no_path') });
      }
    }
    expect(lookups()).toBe(0);
    expect(w.ef.sessionCount).toBe(0);
  });

  it('still accepts a chain that includes the root its path ends at, and provisions', async () => {
    const { world: w, hello } = await world();
    const withRoot = { ...hello, certificateChain: [...(hello.certificateChain ?? []), toBase64url(der(root.cert))] };
    await expect(w.ef.acceptHello(withRoot)).resolves.toMatchObject({ type: 'provisioning.challenge' });
    // And the device's own chain, end to end.
    const { outcome } = await provision((await world()).world, 'p256');
    expect(outcome.manufacturerCertificate?.subject).toBe(`CN=${NODE_ID}, O=Acme Meters`);
  });
});
