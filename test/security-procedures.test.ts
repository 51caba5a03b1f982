import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { command } from '../domain/commands/index.ts';
import { isCredenceError } from '../domain/errors.ts';
import { DAY } from '../adapters/driven/clock/index.ts';
import { verifyProvisioningReceipt } from '../domain/protocols/index.ts';
import { containsSecret, toBase64url } from './crypto-fixtures.ts';
import { at, footprint, operator, profile, T0 } from './support/fleet.ts';
import { securityWorld } from './support/security-world.ts';

type World = Awaited<ReturnType<typeof securityWorld>>;
let world: World | undefined;
afterEach(async () => {
  await world?.close();
  world = undefined;
});

const state = async (w: World, kind: 'node' | 'credential' | 'association', id: string) =>
  String((await w.credence.engine.entity(kind, id)).snapshot.value);

type Device = Awaited<ReturnType<World['provisioned']>>;
type StoredSessionKey = { se: World['infraSe']; owner: string; handle: string };

/** Records every stored (non-ephemeral) session key derived from now on, at the infrastructure and at the device. */
const watchStoredSessionKeys = (w: World, device: Device): StoredSessionKey[] => {
  const derived: StoredSessionKey[] = [];
  for (const [se, owner] of [[w.infraSe, w.infrastructure.owner], [w.seOf(device), device.owner]] as const) {
    const deriveKey = se.deriveKey.bind(se);
    se.deriveKey = async (o, spec) => {
      const handle = await deriveKey(o, spec);
      if (spec.kind === 'session256' && spec.ephemeral !== true) derived.push({ se, owner, handle });
      return handle;
    };
  }
  return derived;
};

/** Each key is gone from its Secure Environment: using it is not_found. */
const expectDestroyed = async (keys: readonly StoredSessionKey[]): Promise<void> => {
  for (const { se, owner, handle } of keys) {
    const reuse = await se.seal(owner, handle as never, new Uint8Array([1]), new Uint8Array(0)).catch((e: unknown) => e);
    expect(isCredenceError(reuse, 'not_found'), `${owner}'s session key ${handle} is destroyed`).toBe(true);
  }
};

describe('remote provisioning and association handshake through the engine, both ends for real', () => {
  it.each([
    ['psk256', 'psk256'],
    ['ed25519', 'ed25519'],
    ['p256', 'p256'],
    ['ed25519', 'psk256'],
  ] as const)('bootstrap %s, service credential %s: provisioned, associated, a session key per direction paired across the ends', async (bootstrap, service) => {
    world = await securityWorld(`run-${bootstrap}-${service}`);
    const w = world;
    const device = await w.provisioned('meter-1', bootstrap, service);
    const credential = await w.credence.engine.entity('credential', 'meter-1-svc');
    expect(String(credential.snapshot.value)).toBe('enrolled');
    const provisioned = credential.events.find((e) => e.event.type === 'CredentialProvisioned');
    expect(provisioned?.event.data).toMatchObject({ method: 'remote-provisioning', bootstrapCredentialId: 'meter-1-boot', receipt: { enrolmentFunctionId: 'MEF-1' } });

    const { registree, registrar } = await w.procedures.associate({ device, associationId: 'sa-1', credentialId: 'meter-1-svc', lifetimeSeconds: 30 * 86_400 });
    expect(await state(w, 'association', 'sa-1')).toBe('associated');
    expect(registree.transcriptHash).toBe(registrar.transcriptHash);
    // One key per direction: what the Registrar's Secure Environment seals with its send key, the device opens
    // with its receive key, and the other way round.
    const down = await w.infraSe.seal(w.infrastructure.owner, registrar.sessionKeys.send, new TextEncoder().encode('command 7'), new Uint8Array(0));
    expect(new TextDecoder().decode(await device.se.open(registree.sessionKeys.receive, down, new Uint8Array(0)))).toBe('command 7');
    const up = await device.se.seal(registree.sessionKeys.send, new TextEncoder().encode('meter reading 42'), new Uint8Array(0));
    expect(new TextDecoder().decode(await w.infraSe.open(w.infrastructure.owner, registrar.sessionKeys.receive, up, new Uint8Array(0)))).toBe('meter reading 42');
    expect(await w.infraSe.open(w.infrastructure.owner, registrar.sessionKeys.send, up, new Uint8Array(0))).toBeUndefined();
    // 11.3.2: the association ends strictly before the credential.
    const a = await w.credence.engine.entity('association', 'sa-1');
    expect((a.snapshot.context as { expiresAt: number }).expiresAt).toBeLessThan((credential.snapshot.context as { notAfter: number }).notAfter);
  });

  it('records a receipt an auditor can verify offline with the public keys (non-repudiation)', async () => {
    world = await securityWorld('receipt');
    const w = world;
    await w.provisioned('meter-1', 'p256', 'ed25519');
    const credential = await w.credence.engine.entity('credential', 'meter-1-svc');
    const issued = credential.events[0]!.event;
    const provisioned = credential.events[1]!.event;
    if (issued.type !== 'CredentialIssued' || provisioned.type !== 'CredentialProvisioned') throw new Error('unexpected events');
    const boot = (await w.credence.engine.entity('credential', 'meter-1-boot')).events[0]!.event;
    if (boot.type !== 'CredentialIssued') throw new Error('unexpected events');
    // Only public data: the two events as stored, the bootstrap's CredentialIssued and the Enrolment Function's public key.
    const keys = { bootstrap: boot.data, enrolmentFunction: { kind: w.infrastructure.signing.kind, publicKey: toBase64url(w.infrastructure.signing.efPublicKey) } };
    const checked = verifyProvisioningReceipt(provisioned.data, keys, { issued: issued.data });
    expect(checked).toMatchObject({ ok: true, version: 2, proofs: { bootstrap: 'verified', credential: 'verified', enrolmentFunction: 'verified' } });
    expect(checked.ok && checked.statement).toMatchObject({ credentialId: 'meter-1-svc', nodeId: 'meter-1', enrolmentFunctionId: 'MEF-1' });
    // The event the engine recorded from a receipt whose credential is another one does not verify.
    expect(verifyProvisioningReceipt({ ...provisioned.data, credentialId: 'meter-2-svc' }, keys)).toMatchObject({ ok: false, code: 'fact_mismatch', path: 'credentialId' });
  });
});

describe('manufacturer (IDevID) certificates through the engine (SER-SWIR-04)', async () => {
  const { TrustAnchors } = await import('../domain/x509/index.ts');
  const { der, importPublicKey, intermediateCa, issue, rootCa } = await import('./x509-fixtures.ts');
  const root = await rootCa();
  const deviceCa = await intermediateCa(root, 'CN=Acme Meters Device CA, O=Acme');
  const certify = async (kind: 'ed25519' | 'p256', publicKey: Uint8Array) => [
    der(await issue(deviceCa, { subject: 'CN=meter-1, O=Acme Meters', publicKey: await importPublicKey(kind, publicKey) })),
    der(deviceCa.cert),
  ];
  const factory = async (w: World) => {
    const device = w.device('meter-1');
    await w.procedures.preProvision({
      device, profile, bootstrapCredentialId: 'meter-1-boot', kind: 'p256', validity: { notBefore: T0, notAfter: at(5 * 365) }, certify,
    });
    await w.credence.engine.execute({ type: 'enrolNode', data: { nodeId: 'meter-1', subscriptionId: 'sub-1', cseId: '/meter-1-cse' }, metadata: { actor: operator } });
    return device;
  };

  it('records the certificate at the factory and verifies the chain against the trust anchors at provisioning', async () => {
    world = await securityWorld('idevid', { trustAnchors: TrustAnchors.fromDer([der(root.cert)]) });
    const device = await factory(world);
    const boot = await world.credence.engine.entity('credential', 'meter-1-boot');
    expect(boot.events[0]!.event.data).toMatchObject({ certificate: { subject: 'CN=meter-1, O=Acme Meters', issuer: 'CN=Acme Meters Device CA, O=Acme' } });
    const { provisioned } = await world.procedures.provisionRemotely({ device, credentialId: 'meter-1-svc', kind: 'ed25519' });
    expect(provisioned.events[0]!.data).toMatchObject({ receipt: { manufacturerCertificate: { subject: 'CN=meter-1, O=Acme Meters', anchorFingerprint: expect.stringMatching(/^sha256:/) } } });
  });

  it('refuses a chain from an unknown manufacturer root at the factory (preProvision verifies what it records), appending nothing', async () => {
    const otherRoot = await rootCa('CN=Someone Else Root');
    world = await securityWorld('idevid-unknown', { trustAnchors: TrustAnchors.fromDer([der(otherRoot.cert)]) });
    const before = await footprint(world.credence.store);
    const error = await factory(world).catch((e: unknown) => e);
    expect(isCredenceError(error, 'bad_signature') && error.message).toContain('unknown_trust_anchor');
    expect(await footprint(world.credence.store)).toEqual(before);
  });
});

describe('a failed procedure appends nothing', () => {
  it('a device whose bootstrap key is not the registered one is refused by the Enrolment Function', async () => {
    world = await securityWorld('wrong-bootstrap');
    const w = world;
    const device = await w.provisioned('meter-1', 'ed25519', 'ed25519');
    await device.generateBootstrap('ed25519', { notBefore: '2026-01-01T00:00:00.000Z', notAfter: '2030-01-01T00:00:00.000Z' });
    const before = await footprint(w.credence.store);
    const error = await w.procedures.provisionRemotely({ device, credentialId: 'meter-1-svc2', kind: 'ed25519' }).catch((e: unknown) => e);
    expect(isCredenceError(error, 'protocol')).toBe(true);
    expect(await footprint(w.credence.store)).toEqual(before);
  });

  it('a revoked credential cannot be used for a handshake: the Registrar refuses, nothing is established', async () => {
    world = await securityWorld('revoked-handshake');
    const w = world;
    const device = await w.provisioned('meter-1', 'ed25519', 'p256');
    await w.infrastructure.run('configureAssociation', {
      associationId: 'sa-1', nodeId: 'meter-1', credentialId: 'meter-1-svc', registree: { kind: 'cse', id: '/meter-1-cse' }, registrarCseId: '/in-cse',
    });
    await w.infrastructure.run('revokeCredential', { credentialId: 'meter-1-svc', reason: 'keyCompromise' });
    const before = await footprint(w.credence.store);
    const error = await w.procedures
      .establish({ device, associationId: 'sa-1', credentialId: 'meter-1-svc', lifetimeSeconds: 3600, registreeId: '/meter-1-cse' })
      .catch((e: unknown) => e);
    expect(isCredenceError(error, 'protocol')).toBe(true);
    expect(await footprint(w.credence.store)).toEqual(before);
  });

  it('a handshake the engine refuses to record leaves no session key at either end', async () => {
    world = await securityWorld('orphan-session');
    const w = world;
    const device = await w.provisioned('meter-1', 'ed25519', 'ed25519');
    const first = await w.procedures.associate({ device, associationId: 'sa-1', credentialId: 'meter-1-svc', lifetimeSeconds: 3600 });
    await w.infrastructure.run('configureAssociation', {
      associationId: 'sa-2', nodeId: 'meter-1', credentialId: 'meter-1-svc', registree: { kind: 'cse', id: '/meter-1-cse' }, registrarCseId: w.infrastructure.registrarCseId,
    });
    // Watch every session key the second handshake derives, at both ends.
    const derived = watchStoredSessionKeys(w, device);
    // sa-2 is revoked once the Registrar has verified the finish (its hello, which runs the association's rules, found
    // it waiting): the handshake succeeds cryptographically, the machine refuses to record it.
    const registrar = w.infrastructure.registrar;
    const acceptFinish = registrar.acceptFinish.bind(registrar);
    registrar.acceptFinish = async (finish, association) => {
      const answer = await acceptFinish(finish, association);
      await w.credence.engine.execute(command('revokeAssociation', { associationId: 'sa-2', reason: 'cessationOfOperation' }, { actor: operator }));
      return answer;
    };
    const error = await w.procedures
      .establish({ device, associationId: 'sa-2', credentialId: 'meter-1-svc', lifetimeSeconds: 3600, registreeId: '/meter-1-cse' })
      .catch((e: unknown) => e);
    expect(isCredenceError(error, 'illegal_transition')).toBe(true);
    expect((await w.credence.engine.entity('association', 'sa-2')).events.map((e) => e.event.type)).toEqual(['AssociationConfigured', 'AssociationRevoked']);
    expect(w.credence.keyRegistry?.live('association-sa-2', 'session')).toEqual([]);
    expect(w.credence.keyRegistry?.live('association-sa-1', 'session').sort()).toEqual([first.registrar.sessionKeys.send, first.registrar.sessionKeys.receive].sort());
    // Two session keys (one per direction) at each end; the Finished keys are ephemeral and gone with the run.
    expect(derived.map((d) => d.owner).sort()).toEqual([device.owner, device.owner, w.infrastructure.owner, w.infrastructure.owner].sort());
    await expectDestroyed(derived);
  });

  it('a Registrar confirm the device cannot verify: the device reports nothing, nothing is recorded, no session key is left (issue 11 item 11)', async () => {
    world = await securityWorld('bad-confirm');
    const w = world;
    const device = await w.provisioned('meter-1', 'ed25519', 'psk256');
    const registrar = w.infrastructure.registrar;
    const acceptFinish = registrar.acceptFinish.bind(registrar);
    registrar.acceptFinish = async (finish, association) => {
      const answer = await acceptFinish(finish, association);
      const mac = Buffer.from(answer.confirm.keyConfirmation, 'base64url');
      mac[0]! ^= 1;
      return { ...answer, confirm: { ...answer.confirm, keyConfirmation: mac.toString('base64url') } };
    };
    const derived = watchStoredSessionKeys(w, device);
    const error = await w.procedures
      .associate({ device, associationId: 'sa-1', credentialId: 'meter-1-svc', lifetimeSeconds: 3600 })
      .catch((e: unknown) => e);
    expect(isCredenceError(error, 'protocol') && error.problem).toMatchObject({ step: 'association.confirm', reason: 'bad_mac' });
    const association = await w.credence.engine.entity('association', 'sa-1');
    expect(association.events.map((e) => e.event.type)).toEqual(['AssociationConfigured']);
    expect(w.credence.keyRegistry?.live('association-sa-1')).toEqual([]);
    expect(derived.length).toBe(2); // the Registrar's send and receive keys, destroyed; the device stored none: it derives its own only after the confirm verifies
    await expectDestroyed(derived);
  });

  it('a factory registration under ids already in use is refused before any key is made, and spoils nothing', async () => {
    world = await securityWorld('ids-in-use');
    const w = world;
    const device = await w.provisioned('meter-1', 'psk256', 'psk256');
    const bootstrapBefore = device.bootstrap;
    const before = await footprint(w.credence.store);
    const again = await w.procedures
      .preProvision({ device, profile, bootstrapCredentialId: 'meter-1-boot-2', kind: 'psk256', validity: { notBefore: T0, notAfter: at(365) } })
      .catch((e: unknown) => e);
    expect(isCredenceError(again, 'validation') && again.message).toContain('node meter-1 already exists');
    const other = w.device('meter-2');
    const reused = await w.procedures
      .preProvision({ device: other, profile, bootstrapCredentialId: 'meter-1-boot', kind: 'psk256', validity: { notBefore: T0, notAfter: at(365) } })
      .catch((e: unknown) => e);
    expect(isCredenceError(reused, 'validation') && reused.message).toContain('credential meter-1-boot already exists');
    expect(await footprint(w.credence.store)).toEqual(before);
    // meter-1's factory PSK is untouched at both ends: it still authenticates a remote provisioning.
    expect(device.bootstrap).toBe(bootstrapBefore);
    await w.procedures.provisionRemotely({ device, credentialId: 'meter-1-svc2', kind: 'ed25519' });
    expect((await w.credence.engine.entity('credential', 'meter-1-svc2')).snapshot.value).toBe('enrolled');
  });

  it('a revoked node cannot be provisioned remotely', async () => {
    world = await securityWorld('revoked-node');
    const w = world;
    const device = await w.provisioned('meter-1', 'ed25519', 'ed25519');
    await w.credence.engine.execute(command('revokeNode', { nodeId: 'meter-1', reason: 'cessationOfOperation' }, { actor: operator }));
    await w.credence.settle();
    const before = await footprint(w.credence.store);
    const error = await w.procedures.provisionRemotely({ device, credentialId: 'meter-1-svc2', kind: 'ed25519' }).catch((e: unknown) => e);
    expect(isCredenceError(error, 'protocol')).toBe(true);
    expect(await footprint(w.credence.store)).toEqual(before);
  });
});

describe('rotation, revocation cascade and crypto-shredding', () => {
  it('rotates a credential: successor linked, associations re-established, predecessor revoked as superseded after the overlap', async () => {
    world = await securityWorld('rotation');
    const w = world;
    const device = await w.provisioned('meter-1', 'ed25519', 'psk256');
    await w.procedures.associate({ device, associationId: 'sa-1', credentialId: 'meter-1-svc', lifetimeSeconds: 90 * 86_400 });
    await w.credence.settle();
    w.clock.advance(10 * DAY);
    const { overlapEndsAt } = await w.procedures.rotate({
      device, credentialId: 'meter-1-svc', successorId: 'meter-1-svc-r1', kind: 'ed25519', overlapSeconds: 7 * 86_400,
      associations: [{ associationId: 'sa-1', successorAssociationId: 'sa-1-r1', lifetimeSeconds: 90 * 86_400 }],
    });
    await w.credence.settle();
    const successor = await w.credence.engine.entity('credential', 'meter-1-svc-r1');
    expect(successor.snapshot.context).toMatchObject({ predecessorId: 'meter-1-svc' });
    expect(await state(w, 'association', 'sa-1')).toBe('associated');
    expect(await state(w, 'association', 'sa-1-r1')).toBe('associated');

    w.clock.set(overlapEndsAt);
    await w.credence.tick();
    const predecessor = await w.credence.engine.entity('credential', 'meter-1-svc');
    expect([String(predecessor.snapshot.value), (predecessor.snapshot.context as { revocationReason?: string }).revocationReason]).toEqual(['revoked', 'superseded']);
    expect(await state(w, 'association', 'sa-1')).toBe('revoked');
    expect(await state(w, 'association', 'sa-1-r1')).toBe('associated');
    expect(await state(w, 'credential', 'meter-1-svc-r1')).toBe('associated');
  });

  it('revoking a credential destroys the keys the infrastructure held for it: nothing can use them afterwards', async () => {
    world = await securityWorld('shredding');
    const w = world;
    const device = await w.provisioned('meter-1', 'ed25519', 'psk256');
    const { registrar } = await w.procedures.associate({ device, associationId: 'sa-1', credentialId: 'meter-1-svc', lifetimeSeconds: 3600 });
    const keys = w.credence.keyRegistry!;
    const [psk] = keys.live('credential-meter-1-svc', 'psk');
    expect(psk).toBeDefined();
    await w.infraSe.mac(w.infrastructure.owner, psk as never, new Uint8Array([1]));

    await w.infrastructure.run('revokeCredential', { credentialId: 'meter-1-svc', reason: 'keyCompromise' });
    await w.credence.settle();
    expect(await state(w, 'association', 'sa-1')).toBe('revoked');
    for (const [handle, use] of [
      [psk, () => w.infraSe.mac(w.infrastructure.owner, psk as never, new Uint8Array([1]))],
      [registrar.sessionKeys.send, () => w.infraSe.seal(w.infrastructure.owner, registrar.sessionKeys.send, new Uint8Array([1]), new Uint8Array(0))],
      [registrar.sessionKeys.receive, () => w.infraSe.seal(w.infrastructure.owner, registrar.sessionKeys.receive, new Uint8Array([1]), new Uint8Array(0))],
    ] as const) {
      const error = await use().catch((e: unknown) => e);
      expect(isCredenceError(error, 'not_found'), `handle ${handle} is shredded`).toBe(true);
    }
    expect(keys.live('credential-meter-1-svc')).toEqual([]);
  });
});

describe('no secret leaves a Secure Environment', () => {
  it('after a full scenario, no PSK, private key, session key or KEK appears in the event store, read models, log, or logs (raw, hex, base64)', async () => {
    world = await securityWorld('no-secrets');
    const w = world;
    const secrets: Uint8Array[] = [w.kek];
    const sessionHandles: { se: typeof w.infraSe; handle: string }[] = [];
    for (const [nodeId, boot, svc] of [['meter-1', 'psk256', 'psk256'], ['meter-2', 'ed25519', 'ed25519'], ['gw-1', 'p256', 'p256']] as const) {
      const device = await w.provisioned(nodeId, boot, svc);
      const { registree, registrar } = await w.procedures.associate({ device, associationId: `${nodeId}-sa`, credentialId: `${nodeId}-svc`, lifetimeSeconds: 86_400 });
      for (const handle of Object.values(registrar.sessionKeys)) sessionHandles.push({ se: w.infraSe, handle });
      for (const handle of Object.values(registree.sessionKeys)) sessionHandles.push({ se: w.seOf(device), handle });
      for (const c of [device.bootstrap!, ...device.credentials.values()]) secrets.push(w.seOf(device).exportForTest(c.handle));
    }
    for (const { se, handle } of sessionHandles) secrets.push(se.exportForTest(handle as never));
    for (const d of w.devices) secrets.push(d.kek);
    await w.credence.engine.execute(command('revokeNode', { nodeId: 'meter-2', reason: 'keyCompromise' }, { actor: operator }));
    await w.credence.settle();
    expect(secrets.length).toBeGreaterThanOrEqual(14);
    for (const s of secrets) expect(s.length).toBeGreaterThanOrEqual(32);

    // Everything outside the Secure Environments' own sealed databases: events, read models, transparency log, logs.
    const files = readdirSync(w.dir).filter((f) => !f.endsWith('-se.sqlite') && !f.startsWith('infrastructure-se.sqlite'));
    expect(files).toEqual(expect.arrayContaining(['events.db', 'readmodels.db', 'transparency.db']));
    const haystacks = [...files.map((f) => readFileSync(join(w.dir, f))), Buffer.from(w.logs.join('\n'))];
    const events: string[] = [];
    for await (const e of w.credence.store.readAll()) events.push(JSON.stringify(e, (_k, v) => (typeof v === 'bigint' ? String(v) : v)));
    haystacks.push(Buffer.from(events.join('\n')));
    for (const secret of secrets) for (const h of haystacks) expect(containsSecret(h, secret)).toBe(false);
  });
});
