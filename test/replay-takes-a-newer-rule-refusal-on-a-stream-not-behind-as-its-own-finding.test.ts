/**
 * Review 259. A data folder machines v9 wrote holds a credential of purpose service owned by App-ID RA (refused since
 * v10 by purposeFitsOwner) with an AE association on it, whose node and App-ID bookkeeping (NodeAssociated,
 * ApplicationInstanceAssociated) replay then refuses in turn: meter-1 and RA stand behind. A later association,
 * ae-x-live, on app-cred-2 (of purpose application, RA never enrolled with it: refused since v10 by
 * appCredentialIsEnrolled) read meter-1 and RA, and was reported as following from the credential's finding: counted
 * with it, and left live by an operator who revoked that credential as the docs say. A refusal by a newer rule on an
 * entity no finding left behind is a finding of its own, whatever lagging entity it read; one that read an entity
 * replay never recorded (the bookkeeping of the unrecorded association) still follows. One pass, the workers and a
 * run from a checkpoint agree.
 */
import { writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { CheckpointFile, readCheckpointFileJson } from '../adapters/driven/replay-checkpoint/checkpoint-file.ts';
import { openSqliteStoreInDir } from '../adapters/driven/store/index.ts';
import { createEngine } from '../adapters/engine/index.ts';
import { verifyFleet } from '../adapters/replay-workers/verify-fleet.ts';
import { command } from '../domain/commands/index.ts';
import type { EventStore, JsonObject } from '../domain/ports/event-store.ts';
import { findingsByNewerRules, findingsFollowingNewerRules, replayAll } from '../projections/replay/index.ts';
import { expectEveryReplayModeAgrees } from './support/replay-modes.ts';
import { dataDirs, forge } from './replay.fixtures.ts';
import { at, cmd, issueCredentialData, operator, T0 } from './support/fleet.ts';

const APP = 'RA';
const owner = { kind: 'app', id: APP };

/** As v10 writes it: meter-1 enrolled, RA enrolled with app-cred-1; app-cred-2 of RA issued and provisioned, never enrolled. */
const world = async (store: EventStore) => {
  const engine = createEngine({ store, clock: new FakeClock(T0) });
  for (const c of [
    cmd.createSubscription(), cmd.registerNode(), cmd.enrolNode(),
    command('registerApplication', { appId: APP, name: 'billing', provider: 'City Utilities' }, { actor: operator }),
    cmd.issueCredential('app-cred-1', APP, at(300), { purpose: 'application', owner }), cmd.provisionCredential('app-cred-1'),
    command('enrolApplication', { appId: APP, credentialId: 'app-cred-1' }, { actor: operator }),
    cmd.issueCredential('app-cred-2', APP, at(300), { purpose: 'application', owner }), cmd.provisionCredential('app-cred-2'),
  ]) await engine.execute(c);
};

/** What v9 stored next: app-bad-svc, of purpose service, owned by RA (purposeFitsOwner since v10). */
const serviceCredentialOfTheAppId = async (store: EventStore) => {
  const data = { ...issueCredentialData('app-bad-svc', APP, { notBefore: T0, notAfter: at(300) }), purpose: 'service', owner } as JsonObject;
  const issued = await forge(store, 'credential-app-bad-svc', 'CredentialIssued', data, at(1));
  await forge(store, 'credential-app-bad-svc', 'CredentialProvisioned', { credentialId: 'app-bad-svc', method: 'pre-provisioning' }, at(1));
  return issued;
};

/** An AE association of RA on `credentialId`, configured and established, as v9 stored it; with its bookkeeping if `bookkeeping`. */
const aeAssociation = async (store: EventStore, associationId: string, aeId: string, credentialId: string, day: number, bookkeeping: boolean) => {
  const configured = await forge(store, `association-${associationId}`, 'AssociationConfigured', {
    associationId, nodeId: 'meter-1', registree: { kind: 'ae', id: aeId, appId: APP }, registrarCseId: '/in-cse', credentialId,
  }, at(day));
  const established = await forge(store, `association-${associationId}`, 'AssociationEstablished', { associationId, expiresAt: at(day + 30) }, at(day));
  const kept = [];
  if (bookkeeping) {
    kept.push(await forge(store, 'node-meter-1', 'NodeAssociated', { nodeId: 'meter-1', associationId }, at(day)));
    kept.push(await forge(store, `application-${APP}`, 'ApplicationInstanceAssociated', { appId: APP, aeId, associationId }, at(day)));
    kept.push(await forge(store, `credential-${credentialId}`, 'CredentialAssociated', { credentialId, associationId }, at(day)));
  }
  return { configured, established, bookkeeping: kept };
};

describe('replay of a v9 folder: a newer-rule refusal on an entity no finding left behind (review 259)', () => {
  const dataDir = dataDirs('credence-replay-own-root-');

  it('is a finding by a newer rule of its own, though it read a node and an App-ID left behind, in one pass, in workers and from a checkpoint', async () => {
    const store = openSqliteStoreInDir(dataDir());
    try {
      await world(store);
      const issued = await serviceCredentialOfTheAppId(store);
      const svc = await aeAssociation(store, 'ae-svc', 'Cs', 'app-bad-svc', 2, true);
      const checkpoint = new CheckpointFile(dataDir());
      expect(await verifyFleet(store, { checkpoint })).toMatchObject({ mode: 'full' });
      const live = await aeAssociation(store, 'ae-x-live', 'Cx', 'app-cred-2', 3, false);

      const single = await replayAll(store);
      const at_ = (position: bigint) => single.findings.find((f) => f.position === position);
      const root = { streamId: 'credential-app-bad-svc', position: issued.position };
      expect(at_(issued.position)).toMatchObject({ rule: 'purposeFitsOwner', ruleSince: 'credence:machines:v10' });
      expect(at_(issued.position)!.followsFrom).toBeUndefined();
      // The unrecorded association's events, and the bookkeeping that names it (associationNamesThisNode, since v8,
      // on a node no finding had left behind yet), follow from the credential's finding.
      for (const p of [svc.configured.position, svc.established.position, ...svc.bookkeeping.map((b) => b.position)]) {
        expect(at_(p), `finding at ${p}`).toMatchObject({ followsFrom: root });
      }
      // ae-x-live is refused by appCredentialIsEnrolled on its own account: a root, its handshake following from it.
      expect(at_(live.configured.position)).toMatchObject({ streamId: 'association-ae-x-live', rule: 'appCredentialIsEnrolled', ruleSince: 'credence:machines:v10' });
      expect(at_(live.configured.position)!.followsFrom).toBeUndefined();
      expect(at_(live.established.position)).toMatchObject({ followsFrom: { streamId: 'association-ae-x-live', position: live.configured.position } });
      expect(single.findings).toHaveLength(9);
      expect(findingsByNewerRules(single.findings)).toBe(2);
      expect(findingsFollowingNewerRules(single.findings)).toBe(7);

      await expectEveryReplayModeAgrees(store, checkpoint, single);
    } finally {
      await store.close();
    }
  }, 60_000);

  it('verifies in full once from a checkpoint whose findings do not say which of their reads replay held none of (before review 259)', async () => {
    const store = openSqliteStoreInDir(dataDir());
    try {
      await world(store);
      await serviceCredentialOfTheAppId(store);
      await aeAssociation(store, 'ae-svc', 'Cs', 'app-bad-svc', 2, true);
      const folder = dataDir();
      const checkpoint = new CheckpointFile(folder);
      await verifyFleet(store, { checkpoint });
      const written = readCheckpointFileJson(checkpoint.path) as { findings: { unrecorded: Record<string, unknown> | null }[] };
      const older = written.findings.map((f) => ({ ...f, unrecorded: f.unrecorded === null ? null : { by: f.unrecorded['by'], reads: f.unrecorded['reads'] } }));
      writeFileSync(checkpoint.path, JSON.stringify({ ...written, findings: older }));
      await aeAssociation(store, 'ae-x-live', 'Cx', 'app-cred-2', 3, false);
      const again = await verifyFleet(store, { checkpoint: new CheckpointFile(folder) });
      expect(again.mode).toBe('full');
      expect(again.notes.join('\n')).toContain('which facts they read replay held none of');
      expect(again.replay).toEqual(await replayAll(store));
      expect(findingsByNewerRules(again.replay.findings)).toBe(2);
    } finally {
      await store.close();
    }
  }, 60_000);
});
