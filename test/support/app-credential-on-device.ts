import { command } from '../../domain/commands/index.ts';
import type { CredentialDescriptor } from '../../domain/crypto/credential.ts';
import { publicKeyFingerprint } from '../../domain/crypto/fingerprint.ts';
import { toBase64url } from '../../domain/crypto/index.ts';
import type { Device } from '../../adapters/protocols/procedures/index.ts';
import { at, operator, T0 } from './fleet.ts';
import type { securityWorld } from './security-world.ts';

/** An App-ID and an AE of it, on meter-1 of a security world: the moved-off credential tests (review 249). */
export const APP = 'Rbilling';
export const AE = 'Cbilling';

type World = Awaited<ReturnType<typeof securityWorld>>;

/** An operator's command of `type` on `w`'s engine. */
export const runAsOperator = (w: World, type: string, data: Record<string, unknown>) =>
  w.credence.engine.execute(command(type as never, data as never, { actor: operator }));

/**
 * A credential of App-ID APP, purpose application, whose key `device` made in its Secure Environment (as an AE's key
 * placed there by the operator would be), issued and pre-provisioned.
 */
export const appCredentialOn = async (w: World, device: Device, credentialId: string): Promise<void> => {
  const handle = await device.se.generate('ed25519', { usage: 'sign' });
  const publicKey = (await device.se.describe(handle)).publicKey!;
  const validity = { notBefore: T0, notAfter: at(365) };
  const owner = { kind: 'app', id: APP } as const;
  const descriptor: CredentialDescriptor = { kind: 'ed25519', fingerprint: publicKeyFingerprint('ed25519', publicKey), publicKey: toBase64url(publicKey), validity, owner };
  await runAsOperator(w, 'issueCredential', {
    credentialId, kind: 'ed25519', fingerprint: descriptor.fingerprint, publicKey: descriptor.publicKey, purpose: 'application', owner, ...validity,
  });
  await runAsOperator(w, 'provisionCredential', { credentialId, method: 'pre-provisioning' });
  device.credentials.set(credentialId, { handle, descriptor });
};

/** An AE association of APP's AE on meter-1 on `credentialId`, configured. */
export const configureAeOnMeter1 = (w: World, associationId: string, credentialId: string) =>
  runAsOperator(w, 'configureAssociation', { associationId, nodeId: 'meter-1', credentialId, registree: { kind: 'ae', id: AE, appId: APP }, registrarCseId: w.infrastructure.registrarCseId });

/** The association's state as its machine sees it. */
export const associationState = async (w: World, id: string): Promise<string> => String((await w.credence.engine.entity('association', id)).snapshot.value);
