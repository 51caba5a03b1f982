import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { EventStore } from '../domain/ports/index.ts';
import { noteVerifierKey } from '../domain/transparency/index.ts';
import { auditStoreAgainstLog, type AuditedRow } from '../projections/transparency/index.ts';
import { signCheckpoint } from '../projections/transparency/sign-checkpoint.ts';
import type { StandIn } from './esdb-standin/index.ts';
import { settled } from './http-sse.fixtures.ts';
import type { TestService } from './support/service.ts';
import { foreignRecord, registerNode, useSharedCluster } from './support/shared-cluster.ts';

/*
 * After review 179: the transparency log logs every record of $all, another application's too on an EventStoreDB
 * cluster shared with it, and those leave $all when their stream is deleted and the server scavenges. The audit took
 * such a leaf for a deleted event: `TAMPERED: deleted` on a cluster nobody tampered with. Now it passes over them,
 * counted apart, on a store that is not gapless; a Credence record gone is still a deletion.
 */

async function* rowsOf(store: EventStore): AsyncGenerator<AuditedRow> {
  for await (const event of store.readAll({})) yield { ok: true, event };
}

describe('the transparency audit on a cluster whose other application scavenges its records', () => {
  const cluster = useSharedCluster();

  /** Credence's records with another application's between them and after them, all logged and signed. */
  const loggedAndSigned = async (): Promise<{ svc: TestService; standIn: StandIn; foreign: string[] }> => {
    const { svc, standIn } = await cluster.start();
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
