// Review 139 (HLR-212): a rotation's overlap may end at the predecessor's notAfter (credential.machine.ts
// successorLinked: overlapEndsAt <= notAfter). Both deadlines then fall due at the same instant on the same stream, and
// the scheduler read them in the order (due, stream, purpose): the expiry first, so the predecessor was expired, not
// revoked as superseded, though its node held the successor at the end of the overlap. The rotation goes first now.
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { openCredence, type Credence } from '../adapters/runtime/index.ts';
import { command, type CommandType } from '../domain/commands/index.ts';
import { dueDeadlines, putDeadline, setupDeadlines, type Deadline } from '../projections/expiry/deadlines.ts';
import { replayAll } from '../projections/replay/index.ts';
import { at, cmd, operator, T0 } from './support/fleet.ts';

let credence: Credence | undefined;
afterEach(async () => {
  await credence?.close();
  credence = undefined;
});

const typesOf = async (c: Credence, stream: string) => (await c.store.readStream(stream)).map((e) => e.type);

describe('a rotation whose overlap ends at the predecessor notAfter, the successor held then (HLR-212)', () => {
  it('revokes each predecessor as superseded at the tick after that instant, never expires it', async () => {
    const clock = new FakeClock(T0);
    const c = (credence = openCredence({ location: { memory: true }, clock }));
    const op = (type: CommandType, data: Record<string, unknown>) => c.engine.execute(command(type, data, { actor: operator }));
    for (const step of [cmd.createSubscription(), cmd.registerNode(), cmd.enrolNode()]) await c.engine.execute(step);
    await op('registerApplication', { appId: 'Rbilling', name: 'billing', provider: 'City Utilities' });
    const app = { purpose: 'application', owner: { kind: 'app', id: 'Rbilling' } };
    // cred-1 (meter-1's) and app-1 (Rbilling's), each until day 30, each with a successor provisioned until day 90.
    for (const [predecessor, successor, holder, extra] of [['cred-1', 'cred-2', 'meter-1', {}], ['app-1', 'app-2', 'Rbilling', app]] as const) {
      await c.engine.execute(cmd.issueCredential(predecessor, holder, at(30), extra));
      await c.engine.execute(cmd.provisionCredential(predecessor));
      await c.engine.execute(cmd.issueCredential(successor, holder, at(90), { ...extra, predecessorId: predecessor }));
      await c.engine.execute(cmd.provisionCredential(successor));
      await c.engine.execute(cmd.startCredentialRotation(at(30), predecessor, successor));
    }
    await c.settle();

    clock.set(at(31));
    await c.tick();
    await c.settle();

    for (const predecessor of ['cred-1', 'app-1']) {
      expect((await typesOf(c, `credential-${predecessor}`)).at(-1)).toBe('CredentialRevoked');
      expect((await c.engine.entity('credential', predecessor)).snapshot).toMatchObject({ value: 'revoked', context: { revocationReason: 'superseded' } });
    }
    for (const successor of ['cred-2', 'app-2']) expect(String((await c.engine.entity('credential', successor)).snapshot.value)).toBe('enrolled');
    expect((await replayAll(c.store)).findings).toEqual([]);
  });
});

describe('the due deadlines, read a page at a time', () => {
  it('give a stream its rotation before its expiry at the same instant, and go on from either without skipping or repeating', () => {
    const db = new Database(':memory:');
    db.defaultSafeIntegers(true);
    setupDeadlines(db);
    const due = Date.parse(at(30));
    const deadline = (stream: string, purpose: Deadline['purpose'], at = due): Deadline => ({ stream, purpose, due: at, command: { type: purpose, data: {} } });
    for (const d of [deadline('credential-b', 'expiry'), deadline('credential-b', 'rotation'), deadline('credential-a', 'rotation'), deadline('credential-a', 'expiry', due - 1)]) {
      putDeadline(db, d);
    }
    const read: string[] = [];
    let after: Deadline | undefined;
    for (let page = dueDeadlines(db, due, 1); page.length > 0; page = dueDeadlines(db, due, 1, after)) {
      after = page[0]!;
      read.push(`${after.stream} ${after.purpose}`);
    }
    expect(read).toEqual(['credential-a expiry', 'credential-a rotation', 'credential-b rotation', 'credential-b expiry']);
    expect(dueDeadlines(db, due).map((d) => `${d.stream} ${d.purpose}`)).toEqual(read);
    db.close();
  });
});
