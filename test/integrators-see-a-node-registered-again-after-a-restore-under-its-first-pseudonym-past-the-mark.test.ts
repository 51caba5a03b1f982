/**
 * Review 303: review 226 made a node registered again after a whole-folder restore take its first pseudonym past its
 * epoch mark (first-epoch.ts), but the integrators' stream knew no marks: it named every frame of a node before its
 * first rotation at epoch 0, so the re-registered node's NodeRegistered frame carried the very pseudonym integrators had
 * seen before the restore (the two periods linked, SER-011), one no rotation in the log records (an auditor's
 * resolution 404). The stream now names a node with no recorded rotation at the epoch its first rotation takes: the
 * first one recorded in the log, else past its mark, else 0. And a node revoked before its first rotation ran takes
 * that rotation at any epoch (machines v12), so the pseudonym its frames carry is one an auditor can resolve.
 */
import Database from 'better-sqlite3';
import { lastValueFrom, toArray } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { openCredence, type Credence } from '../adapters/runtime/index.ts';
import { command } from '../domain/commands/index.ts';
import type { PseudonymContext } from '../machines/pseudonym.machine.ts';
import {
  PseudonymDeriver,
  publicLifecycle,
  pseudonymRotation,
  type EpochMarks,
  type NodeEpoch,
  type PseudonymRotation,
} from '../projections/pseudonyms/index.ts';
import { ProjectionRunner } from '../projections/runtime/index.ts';
import { dataOf, openStream, settled } from './http-sse.fixtures.ts';
import { auditor, cmd, operator, T0 } from './support/fleet.ts';
import { nodeRegisteredSinceBackup, restoreFromBackup } from './support/node-registered-since-backup.ts';
import { currentPseudonym, eventually } from './support/pseudonym-epochs.ts';
import { testKey } from './support/pseudonym-fleet.ts';
import { startTestService, type TestService } from './support/service.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

const folder = temporaryFolders('credence-integrators-after-restore-');

/** The subjects of the NodeRegistered frames an integrator's stream from the start shows, in order. */
const registeredSubjects = async (svc: TestService, count: number): Promise<string[]> => {
  const stream = await openStream(svc.url, svc.tokens.integrator, '/v1/events?identifiers=pseudonymous&from=start');
  expect(stream.status).toBe(200);
  const subjects = () => stream.events().filter((e) => e.event === 'NodeRegistered').map((e) => String(dataOf(e)['subject']));
  await stream.until(() => subjects().length >= count, `${count} registrations`);
  stream.close();
  return subjects();
};

const resolveOverHttp = (svc: TestService, pseudonym: string) =>
  fetch(`${svc.url}/v1/pseudonyms/resolutions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${svc.tokens.auditor}`, 'content-type': 'application/json' },
    body: JSON.stringify({ pseudonym, reason: 'case 303' }),
  });

describe('a node registered again after a whole-folder restore, in the integrators\' stream', () => {
  it('is named under its first pseudonym past the mark, not the one integrators saw before the restore, and an auditor resolves it', async () => {
    const scene = await nodeRegisteredSinceBackup(folder());
    const { data, clock, given } = scene;
    let svc = scene.svc;
    await settled(svc);
    // Integrators saw meter-9 under its epoch-0 pseudonym.
    expect((await registeredSubjects(svc, 2))[1]).toBe(given);
    await svc.close();

    await restoreFromBackup(scene);
    svc = await startTestService({ dir: data, clock });
    try {
      await svc.service.context.credence.pseudonyms!.rotatePastMarks();
      await svc.service.context.credence.engine.execute(cmd.registerNode('meter-9'));
      expect(await eventually(() => currentPseudonym(svc, 'meter-9')?.epoch === 1)).toBe(true);
      const again = currentPseudonym(svc, 'meter-9')!.pseudonym!;
      await settled(svc);
      const subjects = await registeredSubjects(svc, 2);
      expect(subjects[1]).not.toBe(given);
      expect(subjects[1]).toBe(again);
      const resolved = await resolveOverHttp(svc, subjects[1]!);
      expect(resolved.status, await resolved.clone().text()).toBeLessThan(300);
      expect(await resolved.json()).toMatchObject({ nodeId: 'meter-9', epoch: 1 });
    } finally {
      await svc.close();
    }
  }, 120_000);
});

/** keys.db's marks, in memory: as `raise-marks-since-backup` left them after a restore. */
class MemoryMarks implements EpochMarks {
  readonly #marks: Map<string, number>;
  constructor(marks: Record<string, number>) {
    this.#marks = new Map(Object.entries(marks));
  }
  epochMark(nodeId: string): number | undefined {
    return this.#marks.get(nodeId);
  }
  raiseEpochMarks(marks: readonly NodeEpoch[]): void {
    for (const { nodeId, epoch } of marks) if (epoch > (this.#marks.get(nodeId) ?? -1)) this.#marks.set(nodeId, epoch);
  }
  epochMarks(): NodeEpoch[] {
    return [...this.#marks].map(([nodeId, epoch]) => ({ nodeId, epoch }));
  }
}

const memoryDb = (): Database.Database => {
  const db = new Database(':memory:');
  db.defaultSafeIntegers(true);
  return db;
};

/**
 * A log that lost meter-9 and meter-7 (their pseudonyms marked up to epochs 0 and 3 in keys.db), with the pseudonym
 * rotation over it whose runner the test catches up by hand: what the stream names before and after the reactions ran.
 */
const restoredScene = (): { c: Credence; marks: MemoryMarks; rotation: PseudonymRotation; runner: ProjectionRunner } => {
  const c = openCredence({ location: { memory: true }, clock: new FakeClock(T0) });
  const marks = new MemoryMarks({ 'meter-9': 0, 'meter-7': 3 });
  const rotation = pseudonymRotation({ engine: c.engine, deriver: new PseudonymDeriver(testKey), epochMarks: marks });
  const runner = new ProjectionRunner({ db: memoryDb(), store: c.store, projections: [rotation] });
  return { c, marks, rotation, runner };
};

/** Subject of each published frame of `nodeId`'s own lifecycle, from the start to the head. */
const subjectsOf = async (c: Credence, deriver: PseudonymDeriver, types: readonly string[]): Promise<string[]> =>
  (await lastValueFrom(publicLifecycle(c.store, deriver, { live: false }).pipe(toArray()))).filter((e) => types.includes(e.type)).map((e) => e.subject);

const resolve = async (c: Credence, pseudonym: string): Promise<PseudonymContext> => {
  await c.engine.execute(command('resolvePseudonym', { pseudonym, reason: 'case 303' }, { actor: auditor }));
  return (await c.engine.view('pseudonym', pseudonym)).context as unknown as PseudonymContext;
};

describe('frames of a node with no rotation recorded yet', () => {
  it('name the pseudonym its first rotation takes past the mark, before and after it is recorded, live and replayed', async () => {
    const { c, marks, rotation, runner } = restoredScene();
    const raw = new PseudonymDeriver(testKey);
    const pastMark = await raw.node('meter-9', 1);
    await c.engine.execute(cmd.registerNode('meter-9'));
    // Before the reaction ran: no rotation of meter-9 in the log.
    expect(await subjectsOf(c, rotation.deriver, ['NodeRegistered'])).toEqual([pastMark]);
    await runner.catchUp();
    // Recorded there, and marked.
    expect(marks.epochMark('meter-9')).toBe(1);
    expect(await subjectsOf(c, rotation.deriver, ['NodeRegistered'])).toEqual([pastMark]);
    // The mark raised while a directory has not caught up (a second rotation over no directory): still the recorded one.
    const behind = pseudonymRotation({ engine: c.engine, deriver: raw, epochMarks: marks });
    expect(await subjectsOf(c, behind.deriver, ['NodeRegistered'])).toEqual([pastMark]);
    expect(await resolve(c, pastMark)).toMatchObject({ nodeId: 'meter-9', epoch: 1 });
    await c.close();
  });

  it('of a node revoked before its first rotation ran name a pseudonym an auditor can resolve', async () => {
    const { c, rotation, runner } = restoredScene();
    await c.engine.execute(cmd.registerNode('meter-7'));
    await c.engine.execute(command('revokeNode', { nodeId: 'meter-7', reason: 'affiliationChanged' }, { actor: operator }));
    await runner.catchUp();
    const subjects = await subjectsOf(c, rotation.deriver, ['NodeRegistered', 'NodeRevoked']);
    const pastMark = await new PseudonymDeriver(testKey).node('meter-7', 4);
    expect(subjects).toEqual([pastMark, pastMark]);
    expect(await resolve(c, pastMark)).toMatchObject({ nodeId: 'meter-7', epoch: 4 });
    await c.close();
  });
});
