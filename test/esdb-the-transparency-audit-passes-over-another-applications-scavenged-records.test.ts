import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { request } from '../adapters/client/http.ts';
import type { EventStore } from '../domain/ports/index.ts';
import { noteVerifierKey } from '../domain/transparency/index.ts';
import { auditStoreAgainstLog, type AuditedRow } from '../projections/transparency/index.ts';
import { signCheckpoint } from '../projections/transparency/sign-checkpoint.ts';
import { startStandIn, type StandIn } from './esdb-standin/index.ts';
import { settled } from './http-sse.fixtures.ts';
import { startTestService, type TestService } from './support/service.ts';

/*
 * After review 179: the transparency log logs every record of $all, another application's too on an EventStoreDB
 * cluster shared with it, and those leave $all when their stream is deleted and the server scavenges. The audit took
 * such a leaf for a deleted event: `TAMPERED: deleted` on a cluster nobody tampered with. Now it passes over them,
 * counted apart, on a store that is not gapless; a Credence record gone is still a deletion.
 */

const registerNode = async (svc: TestService, nodeId: string): Promise<void> => {
  const body = {
    type: 'registerNode',
    data: { nodeId, profile: { class: 'smart-meter', manufacturer: 'Acme', model: 'SM-1', capabilities: [] }, bootstrapCredentialId: `${nodeId}-boot` },
  };
  const registered = await request(svc.url, { path: '/v1/commands', token: svc.tokens.operator, body });
  expect(registered.status).toBe(201);
};

/** What another application writes to the shared cluster: a record of its own stream. */
const foreignRecord = (standIn: StandIn, streamId: string): void => {
  const appended = standIn.log.append(streamId, { kind: 'any' }, [
    { id: randomUUID(), type: 'OrderPlaced', contentType: 'application/json', data: Buffer.from('{"order":1}'), customMetadata: new Uint8Array() },
  ]);
  if (appended.kind !== 'success') throw new Error('the foreign record was not appended');
};

async function* rowsOf(store: EventStore): AsyncGenerator<AuditedRow> {
  for await (const event of store.readAll({})) yield { ok: true, event };
}

describe('the transparency audit on a cluster whose other application scavenges its records', () => {
  let standIn: StandIn | undefined;
  let svc: TestService | undefined;
  afterEach(async () => {
    await svc?.close();
    await standIn?.stop();
    svc = undefined;
    standIn = undefined;
  });

  /** Credence's records with another application's between them and after them, all logged and signed. */
  const loggedAndSigned = async (): Promise<{ svc: TestService; standIn: StandIn; foreign: string[] }> => {
    standIn = await startStandIn();
    svc = await startTestService({ config: { store: standIn.connectionString } });
    await registerNode(svc, 'audit-scav-1');
    const foreign = [`orders-${randomUUID()}`, `orders-${randomUUID()}`];
    foreignRecord(standIn, foreign[0]!);
    await registerNode(svc, 'audit-scav-2');
    foreignRecord(standIn, foreign[1]!);
    await settled(svc);
    const { log, signer, origin } = svc.service.context.credence.transparencyLog!;
    await signCheckpoint({ log, signer, origin, now: () => new Date() });
    return { svc, standIn, foreign };
  };

  const audit = async (svc: TestService, gapless = svc.service.context.credence.store.gapless === true) => {
    const { credence } = svc.service.context;
    const { log, signer } = credence.transparencyLog!;
    return auditStoreAgainstLog({
      storedEvents: rowsOf(credence.store),
      log,
      logPublicKey: noteVerifierKey(signer.keyName, signer.publicKey),
      gapless,
    });
  };

  it('passes, counting apart the logged records of another application since scavenged from the store', async () => {
    const { svc, standIn, foreign } = await loggedAndSigned();
    const size = svc.service.context.credence.transparencyLog!.log.size();
    for (const stream of foreign) standIn.log.scavenge(stream);

    const report = await audit(svc);
    expect(report).toMatchObject({ ok: true, signedThrough: size, checkedEvents: size - 2, scavengedForeign: 2, unlogged: 0 });
    // Held as a gapless store is (the embedded one), where no record is ever removed, the same leaves are deletions.
    expect(await audit(svc, true)).toMatchObject({ ok: false, kind: 'deleted' });
  }, 60_000);

  it('still reports a Credence record gone from the store as deleted', async () => {
    const { svc, standIn, foreign } = await loggedAndSigned();
    for (const stream of foreign) standIn.log.scavenge(stream);
    const leaves = [...svc.service.context.credence.transparencyLog!.log.leaves()];
    const own = leaves.find((l) => l.stream?.streamId === 'node-audit-scav-2')!;
    // Its stream deleted and scavenged: only tampering (or an operator's mistake) removes a Credence record.
    standIn.log.scavenge('node-audit-scav-2');

    const report = await audit(svc);
    expect(report).toMatchObject({ ok: false, kind: 'deleted', position: own.position });
  }, 60_000);
});
