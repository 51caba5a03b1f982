import { expect, it } from 'vitest';
import { EmbeddedSecureEnvironment } from '../adapters/driven/secure-environment/embedded.ts';
import { ProvisioningClient } from '../adapters/protocols/enrolment/node-client.ts';
import { ownerView, type KeyHandle, type OwnedSecureEnvironment } from '../domain/ports/index.ts';

/*
 * Found in review: a node's provisioning start that failed after generating its ephemeral key (reading its public
 * key back) kept that key in the node's Secure Environment, held by no run.
 */

it("destroys the ephemeral key of a start that failed before any run held it", async () => {
  const inner = ownerView(
    EmbeddedSecureEnvironment.open({ database: ':memory:', kek: { source: 'ephemeral' } }, { now: () => new Date(), random: (n) => crypto.getRandomValues(new Uint8Array(n)) }),
    'device:meter-1',
  );
  const made: KeyHandle[] = [];
  const se = {
    ...inner,
    generate: async (...args: Parameters<typeof inner.generate>) => {
      const handle = await inner.generate(...args);
      made.push(handle);
      return handle;
    },
    // The Secure Environment fails to show the ephemeral's public key.
    describe: async (handle: KeyHandle) => (made.includes(handle) ? Promise.reject(new Error('token removed')) : inner.describe(handle)),
  } as OwnedSecureEnvironment;
  const client = new ProvisioningClient({
    nodeId: 'meter-1',
    se,
    now: () => new Date(),
    random: (n) => crypto.getRandomValues(new Uint8Array(n)),
    bootstrap: { handle: 'key_bootstrap' as KeyHandle, descriptor: { kind: 'psk256', fingerprint: `sha256:${'a'.repeat(64)}`, validity: { notBefore: '2026-01-01T00:00:00.000Z', notAfter: '2030-01-01T00:00:00.000Z' }, owner: { kind: 'node', id: 'meter-1' } } as never },
    enrolmentFunction: { id: 'ef-1' },
  });
  await expect(client.start({ credentialKind: 'psk256' })).rejects.toThrow('token removed');
  expect(made).toHaveLength(1);
  await expect(inner.describe(made[0]!)).rejects.toThrow();
});
