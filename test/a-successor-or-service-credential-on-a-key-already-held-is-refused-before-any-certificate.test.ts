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
 * Review 195 (HLR-212, RS-16; seed 003 11.2.1, 11.3.2). Nothing compared a new credential's key with the keys its node
 * already holds: a "rotation" whose device handed back the predecessor's key was recorded and certified (a fresh
 * certificate on the old key, which outlived the predecessor's revocation as keyCompromise), and so was the factory
 * (bootstrap) key offered as the service credential. Both are refused now before anything is recorded, by the
 * credential machine (keyIsNew); by remote provisioning also at the auth step, before the receipt at which a
 * certificate is signed (enrolment-receipt.ts), so none is: the factory key, and the predecessor's key (the Enrolment
 * Function's `predecessorFingerprint`; it had been refused only by the record, after the CA had signed).
 */
describe('a new credential on a key its node already holds', () => {
  let world: Awaited<ReturnType<typeof pkiWorld>> | undefined;
  const ses: { close(): void }[] = [];
  afterEach(async () => {
    await world?.close();
    for (const se of ses.splice(0)) se.close();
  });

  /** A registered, enrolled device whose Secure Environment makes the key `next.handle` names next, when it does. */
  const faultyDevice = async (w: NonNullable<typeof world>, nodeId: string, bootstrap: 'ed25519' | 'p256') => {
    const real = memorySecureEnvironment(`reuse/${nodeId}`, () => w.clock.now());
    ses.push(real);
    const next: { handle?: KeyHandle } = {};
    // The device acts through its owner's view (forOwner): its `generate` makes `next.handle`'s key, once.
    const nextKeyFirst = <T extends object>(target: T): T =>
      new Proxy({} as T, {
        get: (_, name) => {
          const value = Reflect.get(target, name) as unknown;
          if (typeof value !== 'function') return value;
          if (name === 'forOwner') return (owner: string) => nextKeyFirst((value as (o: string) => object).call(target, owner));
          if (name !== 'generate') return value.bind(target);
          return async (...args: unknown[]) => {
            const handle = next.handle;
            delete next.handle;
            return handle ?? (value as (...a: unknown[]) => Promise<KeyHandle>).apply(target, args);
          };
        },
      });
    const se = nextKeyFirst(real as unknown as SecureEnvironment);
    const device = new Device({ nodeId, se, now: () => w.clock.now(), random: seededRandom(`reuse/${nodeId}/protocol`) });
    await w.procedures.preProvision({ device, profile, bootstrapCredentialId: `${nodeId}-boot`, kind: bootstrap, validity: { notBefore: T0, notAfter: at(5 * 365) } });
    await w.credence.engine.execute({ type: 'enrolNode', data: { nodeId, subscriptionId: 'sub-1', cseId: `/${nodeId}-cse` }, metadata: { actor: operator } });
    return { device, next };
  };

  it("is refused for a rotation onto the predecessor's key at the auth step, before any certificate: the successor is never recorded", async () => {
    world = await pkiWorld('p256');
    const w = world;
    const { device, next } = await faultyDevice(w, 'meter-1', 'ed25519');
    signed.mockClear();
    await w.procedures.provisionRemotely({ device, credentialId: 'meter-1-svc', kind: 'p256' });
    expect(signed).toHaveBeenCalledTimes(1);
    next.handle = device.credentials.get('meter-1-svc')!.handle;
    const refused = w.procedures.provisionRemotely({ device, credentialId: 'meter-1-next', kind: 'p256', predecessorId: 'meter-1-svc' });
    await expect(refused).rejects.toMatchObject({ problem: { code: 'protocol', step: 'provisioning.auth', reason: 'credential_mismatch' } });
    expect(signed).toHaveBeenCalledTimes(1);
    expect((await w.credence.engine.entity('credential', 'meter-1-next')).events).toHaveLength(0);
    expect((await w.credence.engine.entity('credential', 'meter-1-svc')).snapshot.value).toBe('enrolled');
  }, 60_000);

  it('is refused for the factory key offered as the service credential, at the auth step, before any certificate', async () => {
    world = await pkiWorld('p256');
    const w = world;
    const { device, next } = await faultyDevice(w, 'meter-2', 'p256');
    next.handle = device.bootstrap!.handle;
    const refused = w.procedures.provisionRemotely({ device, credentialId: 'meter-2-svc', kind: 'p256' });
    await expect(refused).rejects.toMatchObject({ problem: { code: 'protocol', step: 'provisioning.auth', reason: 'credential_mismatch' } });
    expect((await w.credence.engine.entity('credential', 'meter-2-svc')).events).toHaveLength(0);
  }, 60_000);
});
