import { afterEach, describe, expect, it, vi } from 'vitest';
import { Device } from '../adapters/protocols/procedures/index.ts';
import type { KeyHandle, SecureEnvironment } from '../domain/ports/index.ts';
import * as issuance from '../domain/x509/issuance/index.ts';
import { memorySecureEnvironment, seededRandom } from './crypto-fixtures.ts';
import { pkiWorld } from './pki-issuance-fixtures.ts';
import { at, operator, profile, T0 } from './support/fleet.ts';

// Every node certificate a CA signs (the Enrolment Function's, at the receipt step: certificate-issuance.ts).
vi.mock('../domain/x509/issuance/index.ts', async (original) => {
  const real = await original<typeof import('../domain/x509/issuance/index.ts')>();
  return { ...real, issueNodeCertificate: vi.fn(real.issueNodeCertificate) };
});
const signed = vi.mocked(issuance.issueNodeCertificate);

/*
 * SER-010 (keyNeverCertified). A key cloned from meter-1 onto meter-2 was certified for meter-2 too by remote
 * provisioning: nothing compared it with other nodes' credentials. It is refused now at the auth step, once the clone
 * has proved it holds the key and before a certificate is signed for it at the receipt, as `credential_mismatch`
 * naming no credential: a device may not learn another node's credential id (the operator's refusal names it).
 */
describe("remote provisioning on a key another node's credential was issued on", () => {
  let world: Awaited<ReturnType<typeof pkiWorld>> | undefined;
  const ses: { close(): void }[] = [];
  afterEach(async () => {
    await world?.close();
    for (const se of ses.splice(0)) se.close();
  });

  /** meter-1's Secure Environment as meter-2 sees it: a clone, whose next `generate` hands back `next.handle`'s key. */
  const cloneOf = (real: SecureEnvironment, owner: string, next: { handle?: KeyHandle }): SecureEnvironment => {
    const view = (target: object): SecureEnvironment =>
      new Proxy({} as SecureEnvironment, {
        get: (_, name) => {
          const value = Reflect.get(target, name) as unknown;
          if (typeof value !== 'function') return value;
          if (name === 'forOwner') return () => view((value as (o: string) => object).call(target, owner));
          if (name !== 'generate') return value.bind(target);
          return async (...args: unknown[]) => {
            const handle = next.handle;
            delete next.handle;
            return handle ?? (value as (...a: unknown[]) => Promise<KeyHandle>).apply(target, args);
          };
        },
      });
    return view(real);
  };

  it('is refused at the auth step, before any certificate, naming no credential, and meter-2 records nothing', async () => {
    world = await pkiWorld('p256');
    const w = world;
    const real = memorySecureEnvironment('clone/meter-1', () => w.clock.now());
    ses.push(real);
    const enrolled = async (device: Device) => {
      await w.procedures.preProvision({ device, profile, bootstrapCredentialId: `${device.nodeId}-boot`, kind: 'ed25519', validity: { notBefore: T0, notAfter: at(5 * 365) } });
      await w.credence.engine.execute({ type: 'enrolNode', data: { nodeId: device.nodeId, subscriptionId: 'sub-1', cseId: `/${device.nodeId}-cse` }, metadata: { actor: operator } });
    };
    const original = new Device({ nodeId: 'meter-1', se: real, now: () => w.clock.now(), random: seededRandom('clone/meter-1/protocol') });
    await enrolled(original);
    await w.procedures.provisionRemotely({ device: original, credentialId: 'meter-1-svc', kind: 'p256' });

    const next: { handle?: KeyHandle } = {};
    const clone = new Device({ nodeId: 'meter-2', se: cloneOf(real, 'node:meter-1', next), now: () => w.clock.now(), random: seededRandom('clone/meter-2/protocol') });
    await enrolled(clone);
    next.handle = original.credentials.get('meter-1-svc')!.handle;
    signed.mockClear();
    const refused = w.procedures.provisionRemotely({ device: clone, credentialId: 'meter-2-svc', kind: 'p256' });
    await expect(refused).rejects.toMatchObject({ problem: { code: 'protocol', step: 'provisioning.auth', reason: 'credential_mismatch' } });
    await expect(refused).rejects.not.toThrow(/meter-1/);
    expect(signed).not.toHaveBeenCalled();
    expect((await w.credence.engine.entity('credential', 'meter-2-svc')).events).toHaveLength(0);
    expect((await w.credence.engine.entity('credential', 'meter-1-svc')).snapshot.value).toBe('enrolled');
  }, 60_000);
});
