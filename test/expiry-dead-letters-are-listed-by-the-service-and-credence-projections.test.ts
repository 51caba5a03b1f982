// The expiry scheduler's dead letters (a due deadline whose derived command id another command holds) were only
// counted (`credence_expiry_dead_letters`) and logged once: an operator told to end such an entity by hand could not
// find which without opening SQLite. GET /v1/projections lists them now (the first 100, longest overdue first, and
// their count), and `credence projections` prints them, from a server or from a data folder, as the cascade's are
// (cascade-dead-letters-are-listed-by-the-service-and-credence-projections.test.ts).
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { lockDataFolder, openCredence, type Credence } from '../adapters/runtime/index.ts';
import { derivedCommandId, eventIdFor } from '../domain/event-ids.ts';
import { expiryDeadLetterCount, expiryDeadLetters } from '../projections/expiry/index.ts';
import { addExpiryDeadLetter, type ExpiryDeadLetter } from '../projections/expiry/dead-letters.ts';
import { ops, settled } from './http-sse.fixtures.ts';
import { runCli } from './support/cli.ts';
import { at, cmd, issueCredentialData, operator, placeholderKey, T0 } from './support/fleet.ts';
import { startTestService } from './support/service.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

/**
 * Credential `id` of `node`, due at `notAfter`, issued (through the store, as a history written before admission
 * reserved derived ids holds it) under the command id its expiry derives: its expiry can never be recorded.
 */
const issuedUnderItsExpiryId = async (c: Pick<Credence, 'store' | 'engine'>, id: string, node: string, notBefore: string, notAfter: string) => {
  const commandId = derivedCommandId(`expiry:credential-${id}`, String(Date.parse(notAfter)));
  await c.store.appendToStream(`credential-${id}`, [{
    id: eventIdFor(commandId, 0), type: 'CredentialIssued', data: issueCredentialData(id, node, { notBefore, notAfter }) as never,
    metadata: { schemaVersion: 1, actor: operator, commandId, commandType: 'issueCredential', correlationId: commandId, causationId: commandId, occurredAt: notBefore },
  }], { expectedRevision: { kind: 'no_stream' }, commandId });
};

/** `n` letters of streams that are none of the fleet's, due after every real one: only there to be counted. */
const moreLetters = (db: Database.Database, n: number, after: number): void => {
  for (let i = 0; i < n; i++) {
    const letter: ExpiryDeadLetter = {
      stream: `credential-filler-${i}`, purpose: 'expiry', due: after + 1_000 + i, command: 'expireCredential', commandId: `filler-${i}`, code: 'command_id_taken', reason: 'filler',
    };
    addExpiryDeadLetter(db, letter);
  }
};

const scratch = temporaryFolders('credence-expiry-dead-letters-');

describe('an expiry dead letter', () => {
  it('is listed by GET /v1/projections, with its stream, command, due time and reason and no event data, counted past the 100 listed, and printed by credence projections --server', async () => {
    const clock = new FakeClock(new Date());
    const svc = await startTestService({ clock });
    try {
      const { credence } = svc.service.context;
      for (const step of [ops.createSubscription('sub-ed'), ops.registerNode('ed'), ops.enrolNode('ed', 'sub-ed')]) await credence.engine.execute(step);
      const notAfter = new Date(clock.now().getTime() + 3_600_000).toISOString();
      await issuedUnderItsExpiryId(credence, 'ed-c1', 'ed', new Date(clock.now().getTime() - 1_000).toISOString(), notAfter);
      await settled(svc);
      const read = async () => (await fetch(`${svc.url}/v1/projections`, { headers: { authorization: `Bearer ${svc.tokens.auditor}` } })).json();
      expect(await read()).toMatchObject({ expiryDeadLetters: [], expiryDeadLettersTotal: 0 });

      // Due: the service's next tick dead-letters it.
      // Within the tokens' two days.
      clock.advance(2 * 3_600_000);
      for (let waited = 0; expiryDeadLetterCount(credence.readModels) === 0 && waited < 10_000; waited += 50) await new Promise((resolve) => setTimeout(resolve, 50));

      const answer = (await read()) as { expiryDeadLetters: Record<string, string>[]; expiryDeadLettersTotal: number };
      expect(answer.expiryDeadLettersTotal).toBe(1);
      expect(answer.expiryDeadLetters).toEqual([{
        stream: 'credential-ed-c1', purpose: 'expiry', command: 'expireCredential', due: notAfter, code: 'command_id_taken',
        reason: expect.stringContaining('is taken by a command that is not this reaction'),
      }]);
      expect(JSON.stringify(answer)).not.toContain(placeholderKey('ed-c1').publicKey);

      const text = await runCli(['projections', '--server', svc.url, '--token', svc.tokens.auditor]);
      expect(text.code, text.err).toBe(0);
      expect(text.out).toContain('expiry dead letters: 1 (not retried and the entity not ended; one goes when its entity is ended by hand)');
      expect(text.out).toMatch(new RegExp(`^  ${notAfter} expiry: expireCredential credential-ed-c1: .*is taken`, 'm'));
      const json = await runCli(['projections', '--json', '--server', svc.url, '--token', svc.tokens.auditor]);
      expect(JSON.parse(json.out)).toMatchObject({ expiryDeadLettersTotal: 1, expiryDeadLetters: [{ stream: 'credential-ed-c1', due: notAfter }] });

      // Past the 100 listed: the longest overdue first, the rest counted.
      moreLetters(credence.readModels, 100, Date.parse(notAfter));
      const many = (await read()) as { expiryDeadLetters: Record<string, string>[]; expiryDeadLettersTotal: number };
      expect(many.expiryDeadLettersTotal).toBe(101);
      expect(many.expiryDeadLetters).toHaveLength(100);
      expect(many.expiryDeadLetters[0]).toMatchObject({ stream: 'credential-ed-c1' });
      const bounded = await runCli(['projections', '--server', svc.url, '--token', svc.tokens.auditor]);
      expect(bounded.out).toContain('expiry dead letters: 101');
      expect(bounded.out).toMatch(/^ {2}and 1 more$/m);
    } finally {
      await svc.close();
    }
  }, 30_000);

  it('is printed by credence projections on the data folder, the 100 first and the rest counted', async () => {
    const dir = scratch();
    const notAfter = at(30);
    const clock = new FakeClock(T0);
    const c = openCredence({ location: { dir }, clock });
    for (const step of [cmd.createSubscription(), cmd.registerNode('gw'), cmd.enrolNode('gw')]) await c.engine.execute(step);
    await issuedUnderItsExpiryId(c, 'gw-c1', 'gw', T0, notAfter);
    await c.engine.execute(cmd.provisionCredential('gw-c1'));
    await c.settle();
    clock.set(at(31));
    await c.scheduler.tick();
    expect(expiryDeadLetters(c.readModels)).toHaveLength(1);
    await c.close();

    const { code, out, err } = await runCli(['projections', '--data', dir]);
    expect(code, err).toBe(0);
    expect(out).toContain('expiry dead letters: 1 (not retried and the entity not ended; one goes when its entity is ended by hand)');
    expect(out).toMatch(new RegExp(`^  ${notAfter} expiry: expireCredential credential-gw-c1: .*is taken`, 'm'));

    const db = new Database(join(dir, 'readmodels.db'));
    moreLetters(db, 100, Date.parse(notAfter));
    db.close();
    const many = await runCli(['projections', '--data', dir]);
    expect(many.code, many.err).toBe(0);
    expect(many.out).toContain('expiry dead letters: 101');
    expect(many.out).toMatch(new RegExp(`^  ${notAfter} expiry: expireCredential credential-gw-c1: `, 'm'));
    expect(many.out.split('\n').filter((l) => l.includes(' expiry: expireCredential '))).toHaveLength(100);
    expect(many.out).toMatch(/^ {2}and 1 more$/m);
  }, 30_000);

  it('beside a service of a version before the table, is not read, and the status is printed without a stack trace', async () => {
    const dir = scratch();
    const c = openCredence({ location: { dir }, clock: new FakeClock(T0) });
    await c.settle();
    await c.close();
    const db = new Database(join(dir, 'readmodels.db'));
    db.exec('DROP TABLE expiry_dead_letters');
    db.close();
    // Held, as a running service holds it: read only, nothing set up.
    const service = lockDataFolder(dir, process.env);
    try {
      const { code, out, err } = await runCli(['projections', '--data', dir]);
      expect(code, err).toBe(0);
      expect(err).not.toMatch(/SqliteError|no such/);
      expect(out).toMatch(/^projection +checkpoint/m);
      expect(out).toContain('expiry dead letters: not read here (its dead letters are listed once the service runs this version, or ask the service: --server)');
    } finally {
      service.release();
    }
  }, 30_000);
});
