import { generateKeyPairSync } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { toBase64url } from '../domain/crypto/base64url.ts';
import { publicKeyFingerprint } from '../domain/crypto/fingerprint.ts';
import { provisioningDevices } from './support/provisioning-device.ts';

// Found in review 302: a device whose pinned Enrolment Function or Registrar key is not the server's any more was
// refused safely, `bad_signature (Enrolment Function authentication failed)`, with no word that the server's key is
// not the one pinned at init. A failed proof at a challenge now reads the server's public description and says both
// fingerprints, and what to do.

const { url, operator, device, enrolledDevice } = provisioningDevices('sub-pin-changed');

/** Another ed25519 key, as the device would have pinned it: id kept, key and fingerprint another's. */
const anotherKey = (id: string) => {
  const jwk = generateKeyPairSync('ed25519').publicKey.export({ format: 'jwk' }) as { x: string };
  const bytes = Buffer.from(jwk.x, 'base64url');
  return { id, publicKey: { kind: 'ed25519' as const, publicKey: toBase64url(bytes) }, fingerprint: publicKeyFingerprint('ed25519', bytes) };
};

const repin = (dir: string, which: 'enrolmentFunction' | 'registrar') => {
  const file = join(dir, 'device.json');
  const state = JSON.parse(readFileSync(file, 'utf8')) as { pinned: Record<string, { id: string; fingerprint: string }> };
  const pinned = anotherKey(state.pinned[which]!.id);
  state.pinned[which] = pinned;
  writeFileSync(file, JSON.stringify(state, null, 2));
  return pinned.fingerprint;
};

const serversFingerprint = async (path: string): Promise<string> => ((await (await fetch(`${url()}${path}`)).json()) as { fingerprint: string }).fingerprint;

describe('a failed proof at a challenge from a server whose key is not the one pinned', () => {
  it('provision names the Enrolment Function fingerprint pinned at init and the server’s', async () => {
    const dir = await enrolledDevice('pin-ef');
    const pinned = repin(dir, 'enrolmentFunction');
    const refused = await device(['provision', '--dir', dir, '--credential-id', 'pin-ef-1', '--kind', 'ed25519', '--server', url()]);
    expect(refused.code).toBe(1);
    expect(refused.output).toMatch(/provisioning\.challenge rejected: bad_signature/);
    expect(refused.output).toContain(`pinned at init (${pinned})`);
    expect(refused.output).toContain(`the server's is ${await serversFingerprint('/v1/enrolment')}`);
  }, 60_000);

  it('associate names the Registrar CSE fingerprint pinned at init and the server’s', async () => {
    const dir = await enrolledDevice('pin-reg');
    expect((await device(['provision', '--dir', dir, '--credential-id', 'pin-reg-1', '--kind', 'ed25519', '--server', url()])).code).toBe(0);
    const pinned = repin(dir, 'registrar');
    const refused = await device(['associate', '--dir', dir, '--association-id', 'pin-reg-sa', '--credential-id', 'pin-reg-1', '--server', url(), '--token', operator().token]);
    expect(refused.code).toBe(1);
    expect(refused.output).toMatch(/association\.challenge rejected: bad_signature/);
    expect(refused.output).toContain(`pinned at init (${pinned})`);
    expect(refused.output).toContain(`the server's is ${await serversFingerprint('/v1/registrar')}`);
  }, 60_000);

  it('status prints both pinned fingerprints', async () => {
    const dir = await enrolledDevice('pin-status');
    const state = JSON.parse(readFileSync(join(dir, 'device.json'), 'utf8')) as { pinned: Record<string, { fingerprint: string }> };
    const status = await device(['status', '--dir', dir]);
    expect(status.code).toBe(0);
    expect(status.output).toContain(`Enrolment Function MEF-1 (${state.pinned['enrolmentFunction']!.fingerprint})`);
    expect(status.output).toContain(`Registrar CSE /in-cse (${state.pinned['registrar']!.fingerprint})`);
  }, 60_000);
});
