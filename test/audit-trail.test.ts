import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FakeClock, HOUR } from '../adapters/driven/clock/index.ts';
import { generateSigningKey, toBase64url } from '../domain/crypto/index.ts';
import { openCredence, type Credence } from '../adapters/runtime/index.ts';
import { RequestSigningPolicy, signCommand } from '../domain/signing/index.ts';
import { ExpectedRevision, type EventStore } from '../domain/ports/event-store.ts';
import { actionsOf, auditTrail, stateAt, timeline } from '../projections/audit/index.ts';
import { ProjectionRunner } from '../projections/runtime/index.ts';
import { main } from '../bin/cli.ts';
import { renderProgress } from '../bin/progress.ts';
import { at, cmd, operator, T0 } from './support/fleet.ts';
import { capture } from './support/cli.ts';

const alice = generateSigningKey('ed25519', (n) => new Uint8Array(randomBytes(n)));
const signing = RequestSigningPolicy.parse({ audience: 'credence:test', keys: [{ actorId: operator.id, roles: ['operator'], algorithm: 'ed25519', publicKey: toBase64url(alice.publicKey) }] });
const iso = (ms: number) => new Date(ms).toISOString();

/** Lifecycle of one credential, an hour between operator steps; the revocation is a signed request. */
const scenario = async (c: Credence, clock: FakeClock) => {
  const step = async (input: unknown) => {
    clock.advance(HOUR);
    return c.engine.execute(input);
  };
  await step(cmd.createSubscription());
  await step(cmd.registerNode('meter-1'));
  await step(cmd.enrolNode('meter-1'));
  await step(cmd.issueCredential('cred-1', 'meter-1'));
  await step(cmd.provisionCredential('cred-1'));
  await step(cmd.configureAssociation('sa-1', 'cred-1', 'meter-1'));
  await step(cmd.establishAssociation('sa-1'));
  await c.settle();
  const revoke = { ...cmd.revokeCredential('cred-1', 'keyCompromise'), metadata: { actor: operator, commandId: crypto.randomUUID() } };
  clock.advance(HOUR);
  const signedRevoke = signCommand(revoke, { algorithm: 'ed25519', secretKey: alice.secretKey }, { audience: signing.audience, issuedAt: clock.now(), lifetimeSeconds: 300 });
  const revocation = await c.engine.execute(signedRevoke);
  await c.settle();
  return { revocation: revocation.events[0]! };
};

const open = (location: { memory: true } | { dir: string } = { memory: true }) => {
  const clock = new FakeClock(T0);
  return { clock, c: openCredence({ location, clock, signing }) };
};

const timesOf = async (store: EventStore, streamId: string) =>
  (await store.readStream(streamId)).map((r) => ({ type: r.type, at: Date.parse(String(r.metadata['occurredAt'])) }));

describe('audit trail', () => {
  it("records each event of an entity's timeline with its actor, reason, causation and signature status", async () => {
    const { c, clock } = open();
    const { revocation } = await scenario(c, clock);

    const association = timeline(c.readModels, 'association-sa-1');
    expect(association.map((e) => [e.type, e.actor.id, e.reason, e.signature.status])).toEqual([
      ['AssociationConfigured', operator.id, undefined, 'unsigned'],
      ['AssociationEstablished', operator.id, undefined, 'unsigned'],
      ['AssociationRevoked', 'system:process-manager', 'keyCompromise', 'unsigned'],
    ]);
    // The cascade's revocation names the credential revocation that caused it.
    expect(association[2]!.causedBy).toEqual({ position: revocation.position, streamId: 'credential-cred-1', type: 'CredentialRevoked' });
    expect(association[0]!.causedBy).toBeUndefined();

    const credential = timeline(c.readModels, 'credential-cred-1');
    expect(credential.map((e) => e.type)).toEqual(['CredentialIssued', 'CredentialProvisioned', 'CredentialAssociated', 'CredentialRevoked']);
    expect(credential.at(-1)).toMatchObject({
      position: revocation.position,
      actor: operator,
      commandType: 'revokeCredential',
      reason: 'keyCompromise',
      signature: { status: 'verified', keyFingerprint: (revocation.metadata['signature'] as { keyFingerprint: string }).keyFingerprint },
    });
    await c.close();
  });

  it('records what a plugged-in signature check says, so verification can replace mere presence', async () => {
    const { c, clock } = open();
    await scenario(c, clock);
    const db = c.readModels;
    db.exec('DROP TABLE audit_events');
    const runner = new ProjectionRunner({
      db,
      store: c.store,
      projections: [
        auditTrail({
          signatureCheck: (e) => (e.metadata.signature === undefined ? 'unsigned' : e.metadata.actor.id === operator.id ? 'verified' : 'invalid'),
          signatureRules: { fingerprint: 'test:operator-verified', description: "the operator's signatures verified" },
        }),
      ],
    });
    await runner.rebuild('audit');
    expect(timeline(db, 'credential-cred-1').map((e) => e.signature.status)).toEqual(['unsigned', 'unsigned', 'unsigned', 'verified']);
    await c.close();
  });

  it('lists every action of one actor in a time window', async () => {
    const { c, clock } = open();
    await scenario(c, clock);
    const all = actionsOf(c.readModels, operator.id);
    expect(all.map((e) => e.commandType)).toEqual([
      'createSubscription', 'registerNode', 'enrolNode', 'issueCredential', 'provisionCredential', 'configureAssociation', 'establishAssociation', 'revokeCredential',
    ]);
    const start = Date.parse(T0);
    // [T0 + 3h, T0 + 5h): the enrolment and the credential issue.
    expect(actionsOf(c.readModels, operator.id, { from: new Date(start + 3 * HOUR), to: new Date(start + 5 * HOUR) }).map((e) => e.commandType)).toEqual([
      'enrolNode', 'issueCredential',
    ]);
    expect(actionsOf(c.readModels, 'system:process-manager').map((e) => e.type)).toEqual([
      'CredentialAssociated', 'NodeAssociated', 'AssociationRevoked', 'NodeAssociationReleased',
    ]);
    await c.close();
  });

  it('gives the state just before and just after each transition of a credential and of an association', async () => {
    const { c, clock } = open();
    await scenario(c, clock);
    const cases: [string, string[]][] = [
      ['credential-cred-1', ['initialized', 'enrolled', 'associated', 'revoked']],
      ['association-sa-1', ['initialized', 'associated', 'revoked']],
    ];
    for (const [streamId, states] of cases) {
      const events = await timesOf(c.store, streamId);
      expect(events).toHaveLength(states.length);
      let before = 'absent';
      for (const [i, e] of events.entries()) {
        const justBefore = await stateAt(c.store, streamId, new Date(e.at - 1));
        const justAfter = await stateAt(c.store, streamId, new Date(e.at));
        expect([streamId, e.type, justBefore.state, justAfter.state]).toEqual([streamId, e.type, before, states[i]]);
        expect(justAfter.verdict).toEqual({ ok: true });
        expect(justAfter.asOf?.type).toBe(e.type);
        before = states[i]!;
      }
    }
    const associated = await stateAt(c.store, 'credential-cred-1', new Date(Date.parse(T0) + 7 * HOUR));
    expect(associated.context).toMatchObject({ liveAssociations: ['sa-1'] });
    await c.close();
  });

  it('says a history is broken only from the instant of the illegal event', async () => {
    const { c, clock } = open();
    await scenario(c, clock);
    const forgedAt = Date.parse(T0) + 30 * HOUR;
    const stream = await c.store.readStream('credential-cred-1');
    // A writer that bypasses the engine provisions a revoked credential again.
    await c.store.appendToStream('credential-cred-1', [{
      id: crypto.randomUUID(),
      type: 'CredentialProvisioned',
      data: { credentialId: 'cred-1', method: 'pre-provisioning' },
      metadata: { schemaVersion: 1, actor: operator, commandId: crypto.randomUUID(), commandType: 'forged', correlationId: 'f', causationId: 'f', occurredAt: iso(forgedAt) },
    }], { expectedRevision: ExpectedRevision.after(stream.at(-1)!.revision) });

    const before = await stateAt(c.store, 'credential-cred-1', new Date(forgedAt - 1));
    expect(before).toMatchObject({ state: 'revoked', verdict: { ok: true } });
    const after = await stateAt(c.store, 'credential-cred-1', new Date(forgedAt));
    expect(after.state).toBe('revoked');
    expect(after.context).toBeUndefined();
    expect(after.verdict.ok ? [] : after.verdict.findings.map((f) => f.reason)).toEqual([expect.stringContaining('CredentialProvisioned is not allowed in state revoked')]);
    await c.close();
  });

  describe('credence state', () => {
    let dir: string | undefined;
    afterEach(() => {
      if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
      dir = undefined;
    });

    it('prints the state at the given instant, as JSON or text, and refuses an unreadable instant', async () => {
      dir = mkdtempSync(join(tmpdir(), 'credence-state-'));
      const { c, clock } = open({ dir });
      await scenario(c, clock);
      await c.close();
      const provisionedAt = iso(Date.parse(T0) + 5 * HOUR);

      const asJson = capture();
      expect(await main(['state', 'credential-cred-1', '--at', provisionedAt, '--json', '--data', dir], asJson.io)).toBe(0);
      expect(JSON.parse(asJson.out.join('\n'))).toMatchObject({ streamId: 'credential-cred-1', at: provisionedAt, state: 'enrolled', events: 2, verdict: { ok: true } });

      const text = capture();
      expect(await main(['state', 'node-meter-1', '--at', iso(Date.parse(T0)), '--data', dir], text.io)).toBe(0);
      expect(text.out).toEqual([`node-meter-1 at ${iso(Date.parse(T0))}: absent, before its first event`]);

      const bad = capture();
      expect(await main(['state', 'credential-cred-1', '--at', 'yesterday', '--data', dir], bad.io)).toBe(2);
      expect(bad.err.join('\n')).toContain('at: must be an ISO 8601 date-time');
    });

    it('notes a deadline passed by the instant while the state still shows the entity live (review 101)', async () => {
      dir = mkdtempSync(join(tmpdir(), 'credence-state-'));
      const { c } = open({ dir });
      for (const input of [cmd.createSubscription(), cmd.registerNode('meter-1'), cmd.enrolNode('meter-1'), cmd.issueCredential('cred-1', 'meter-1', at(90)), cmd.provisionCredential('cred-1')]) {
        await c.engine.execute(input);
      }
      await c.close();
      // No expiry recorded yet (the scheduler has not run): live as recorded, and the note says its notAfter passed.
      const late = capture();
      expect(await main(['state', 'credential-cred-1', '--at', at(95), '--data', dir], late.io)).toBe(0);
      expect(late.out[0]).toMatch(/^credential-cred-1 at .*: enrolled, after #1 CredentialProvisioned/);
      expect(late.err).toEqual([`note: its notAfter ${new Date(at(90)).toISOString()} had passed by then; the state is as recorded by then, and the scheduler records an expiry or a rotation's end when it runs (its history shows when)`]);
      const within = capture();
      expect(await main(['state', 'credential-cred-1', '--at', at(80), '--data', dir], within.io)).toBe(0);
      expect(within.err).toEqual([]);
    });
  });

  it('draws the bulk replay progress bar from the events done and the total', () => {
    expect(renderProgress(0, 200_000, 'events replayed', 10)).toBe('[----------]   0%  0/200,000 events replayed');
    expect(renderProgress(50_000, 200_000, 'events replayed', 10)).toBe('[###-------]  25%  50,000/200,000 events replayed');
    expect(renderProgress(200_000, 200_000, 'events replayed', 10)).toBe('[##########] 100%  200,000/200,000 events replayed');
    // More events than the head announced (appended meanwhile) never overflow the bar.
    expect(renderProgress(210_000, 200_000, 'events replayed', 10)).toBe('[##########] 100%  210,000/200,000 events replayed');
    expect(renderProgress(42, 0, 'events replayed')).toBe('42 events replayed');
  });
});
