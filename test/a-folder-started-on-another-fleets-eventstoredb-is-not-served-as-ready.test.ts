import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readOnlyDatabase } from '../adapters/driven/files/read-only-database.ts';
import { startStandIn, type StandIn } from './esdb-standin/index.ts';
import { cmd } from './support/fleet.ts';
import { startTestService, type TestService } from './support/service.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

/*
 * Review 278 #1: a data folder started on another fleet's EventStoreDB (a setting pointed at the wrong cluster), whose
 * log is longer than the folder's, was served as ready and took commands. The positions the folder's read models and
 * transparency log handled last fall inside the other log's records, below its head: the check took "no record there"
 * for another application's record scavenged away and let the folder through, and the projections then failed for
 * good on the server's "inside a record". A Credence record missing at its position is another log's (Credence never
 * deletes its own streams): the read models are rebuilt and commands refused, as for a shorter log (past its head).
 */
const scratch = temporaryFolders('credence-another-fleets-esdb-');

let held: StandIn;
let another: StandIn;
beforeEach(async () => {
  held = await startStandIn();
  another = await startStandIn();
});
afterEach(async () => {
  await held.stop();
  await another.stop();
});

/** A folder served on `store` (undefined: its own events.db), holding one registered node; the position handled last. */
const servedOn = async (dir: string, store: string | undefined, nodeId: string): Promise<bigint> => {
  const svc = await startTestService({ dir, config: store === undefined ? {} : { store } });
  try {
    const { credence, live } = svc.service.context;
    const registered = (await credence.engine.execute(cmd.registerNode(nodeId))).events.at(-1)!.position;
    if (!(await live.caughtUp(registered, 30_000))) throw new Error('the live runtime did not catch up');
    // And up to the head: the node's first pseudonym, recorded in reaction, is handled too, so each read model's
    // checkpoint sits on an event of Credence's rather than, by timing, on a fact-claim record of that command (which
    // keeps no occurredAt and is told from another application's record by nothing a checkpoint keeps).
    const head = (await credence.store.headPosition())!;
    if (!(await live.caughtUp(head, 30_000))) throw new Error('the live runtime did not catch up');
    return head;
  } finally {
    await svc.close();
  }
};

/** Another service's fleet of `nodes` nodes on `store`, in a folder of its own. */
const anotherFleetOn = async (store: string, nodes: number): Promise<void> => {
  const svc = await startTestService({ dir: scratch(), config: { store } });
  try {
    for (let i = 0; i < nodes; i++) await svc.service.context.credence.engine.execute(cmd.registerNode(`other-meter-${i}`));
  } finally {
    await svc.close();
  }
};

const readyz = async (svc: TestService): Promise<{ status: number; body: Record<string, unknown> }> => {
  const reply = await fetch(`${svc.url}/readyz`);
  return { status: reply.status, body: (await reply.json()) as Record<string, unknown> };
};

/** Started on the other fleet's store: not ready, commands refused, nothing appended there; read models rebuilt from it. */
const refusedOnAnotherFleet = async (dir: string): Promise<void> => {
  const appended = another.log.all.length;
  const svc = await startTestService({ dir, config: { store: another.connectionString } });
  try {
    await expect(svc.service.context.credence.engine.execute(cmd.registerNode('meter-late'))).rejects.toMatchObject({
      code: 'transparency_log_of_another_log',
    });
    expect(another.log.all.length).toBe(appended);
    const ready = await readyz(svc);
    expect(ready.status).toBe(503);
    expect(ready.body).toMatchObject({ check: 'transparency_log_of_another_log' });
    // The read models were of the other log: rebuilt from this store's, not stopped on a position inside a record.
    const { runner } = svc.service.context.credence;
    await expect.poll(async () => (await runner.lag('entities')).eventsBehind, { timeout: 30_000 }).toBe(0);
  } finally {
    await svc.close();
  }
  const nodes = readOnlyDatabase(join(dir, 'readmodels.db'), (db) =>
    (db.prepare(`SELECT entity_id AS id FROM entities WHERE stream_id LIKE 'node-%'`).all() as { id: string }[]).map((r) => r.id),
  );
  expect(nodes).toContain('other-meter-0');
  expect(nodes.filter((id) => !id.startsWith('other-'))).toEqual([]);
};

describe("a data folder started on another fleet's EventStoreDB, whose log is longer", () => {
  it('served on EventStoreDB: is not ready and refuses commands, its handled positions being inside the other log\'s records', async () => {
    const data = scratch();
    const last = await servedOn(data, held.connectionString, 'meter-1');
    await anotherFleetOn(another.connectionString, 40);
    // The case of review 278: below the other log's head, inside one of its records.
    expect(another.log.all.at(-1)!.position > last).toBe(true);
    expect(another.log.isInsideARecord(last)).toBe(true);

    await refusedOnAnotherFleet(data);
  }, 180_000);

  it('served on its embedded store: is not ready and refuses commands', async () => {
    const data = scratch();
    const last = await servedOn(data, undefined, 'meter-2');
    await anotherFleetOn(another.connectionString, 40);
    expect(another.log.isInsideARecord(last)).toBe(true);

    await refusedOnAnotherFleet(data);
  }, 180_000);
});
