/**
 * Review 186 (finding 3): command ids are compared exactly as sent (review 86), so `--command-id ${V^^}` after
 * `--command-id $V` was another key for what RFC 9562 calls the same UUID: `pseudonym rotate` rotated twice, and
 * `node register` was refused as an illegal transition rather than found done. A NEW command's id must now be in
 * RFC 9562's lower-case form (rule `lower_case`, at `metadata.commandId`, over HTTP `body.commandId`), nothing
 * written; the id is never folded, and a command an earlier version recorded under an upper-case id is still
 * answered when retried under it (test/a-command-id-is-compared-as-sent-so-a-retry-finds-what-an-earlier-version-recorded.test.ts).
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { openSqliteStore } from '../adapters/driven/store/index.ts';
import { createEngine, randomCommandId } from '../adapters/engine/index.ts';
import { command } from '../domain/commands/index.ts';
import { clientCommandId, derivedCommandId } from '../domain/event-ids.ts';
import { embeddedAndStandInStores } from './support/embedded-and-standin-stores.ts';
import { cmd, footprint, operator, profile, rejection, T0 } from './support/fleet.ts';
import { body, registeredPseudonym } from './http-conformance.fixtures.ts';
import { runCli } from './support/cli.ts';
import { startTestService, type TestService } from './support/service.ts';

const register = (commandId: string, nodeId = 'n1') => command('registerNode', { nodeId, profile }, { actor: operator, commandId });
const LOWER_CASE_REFUSAL = { code: 'validation', issues: [{ path: 'metadata.commandId', rule: 'lower_case', message: expect.stringMatching(/lower case/) }] };

describe.each(embeddedAndStandInStores())('a new command whose id is not in lower case, on %s', (_name, open) => {
  it('is refused naming metadata.commandId and the rule, saying to send it in lower case, and nothing is written', async () => {
    // Given an engine with a subscription
    const store = await open();
    const engine = createEngine({ store, clock: new FakeClock(T0) });
    await engine.execute(cmd.createSubscription());
    const before = await footprint(store);

    // When a registration is sent under the upper-case form of a fresh id, or one with a single upper-case digit
    for (const sent of [randomUUID().toUpperCase(), '0b0b0b0b-1111-4222-8333-44444444444A']) {
      const error = await rejection(engine.execute(register(sent)));

      // Then it is refused, naming the lower-case id to send, and nothing is written
      expect(error.problem, sent).toMatchObject(LOWER_CASE_REFUSAL);
      expect(error.message).toContain(sent.toLowerCase());
    }
    expect(await footprint(store)).toEqual(before);
  });

  it('sent again in upper case after its lower-case id was recorded is refused as not lower case, not as an illegal transition', async () => {
    // Given n1 registered under a lower-case id
    const store = await open();
    const engine = createEngine({ store, clock: new FakeClock(T0) });
    await engine.execute(cmd.createSubscription());
    const id = randomUUID();
    await engine.execute(register(id));
    const before = await footprint(store);

    // When the same registration is sent under the same UUID in upper case
    const error = await rejection(engine.execute(register(id.toUpperCase())));

    // Then it is refused for its id's form, nothing written; under the id as recorded it is the first outcome
    expect(error.problem).toMatchObject(LOWER_CASE_REFUSAL);
    expect(await footprint(store)).toEqual(before);
    expect(await engine.execute(register(id))).toMatchObject({ commandId: id, deduplicated: true });
  });
});

describe('the command ids Credence makes itself', () => {
  it('are in lower case: a random one, the engine-filled one, a derived one and a client-derived one', async () => {
    const engine = createEngine({ store: openSqliteStore({ memory: true }), clock: new FakeClock(T0) });
    const filled = await engine.execute(command('createSubscription', cmd.createSubscription().data, { actor: operator }));
    const ids = [filled.commandId, ...Array.from({ length: 50 }, () => randomCommandId()), derivedCommandId('cascade:x', 'y'), clientCommandId('device-init/register', 'z')];
    for (const id of ids) expect(id).toBe(id.toLowerCase());
  });
});

describe('over HTTP and the CLI', () => {
  let svc: TestService;
  const NODE = 'meter-case';
  let pseudonym: string;
  beforeAll(async () => {
    svc = await startTestService();
    pseudonym = await registeredPseudonym(svc, NODE);
  }, 60_000);
  afterAll(async () => svc?.close());

  const post = (path: string, payload: unknown, token = svc.tokens.operator) =>
    fetch(new URL(path, svc.url), { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(payload) });
  const rotations = async () => {
    let n = 0;
    for await (const e of svc.service.context.credence.store.readAll()) if (e.type === 'PseudonymRotated' && e.data['nodeId'] === NODE) n++;
    return n;
  };

  it('POST /v1/commands, /v1/pseudonyms/rotations and /v1/pseudonyms/resolutions answer 400 naming body.commandId and the rule, and write nothing', async () => {
    const store = svc.service.context.credence.store;
    const before = await footprint(store);
    for (const [path, payload] of [
      ['/v1/commands', { ...body.registerNode('meter-upper'), commandId: randomUUID().toUpperCase() }],
      ['/v1/pseudonyms/rotations', { nodeId: NODE, commandId: randomUUID().toUpperCase() }],
      ['/v1/pseudonyms/resolutions', { pseudonym, reason: 'case 2026-186', commandId: randomUUID().toUpperCase() }],
    ] as const) {
      const answer = await post(path, payload, path.endsWith('resolutions') ? svc.tokens.auditor : svc.tokens.operator);
      expect(answer.status, path).toBe(400);
      expect(await answer.json(), path).toMatchObject({ errors: [{ path: 'body.commandId', rule: 'lower_case' }] });
    }
    expect(await footprint(store)).toEqual(before);
  }, 30_000);

  it('credence pseudonym rotate --command-id in upper case after the lower-case one rotates once, the second refused naming the rule (before it is sent, exit 2: review 218)', async () => {
    const rotate = (...extra: string[]) => runCli(['pseudonym', 'rotate', NODE, '--server', svc.url, '--token', svc.tokens.operator, ...extra]);
    const id = randomUUID();
    const first = await rotate('--command-id', id);
    expect(first.code, first.err).toBe(0);
    const count = await rotations();

    const upper = await rotate('--command-id', id.toUpperCase());
    expect(upper.code).toBe(2);
    expect(upper.err).toMatch(/--command-id/);
    expect(upper.err).toMatch(/lower_case|lower case/);
    expect(upper.err).toContain(id);
    expect(await rotations()).toBe(count);

    const again = await rotate('--command-id', id);
    expect(again.code, again.err).toBe(0);
    expect(again.out).toMatch(/already done/);
  }, 30_000);

  it('credence pseudonym rotate and a lifecycle command refuse a --command-id that is no UUID before anything is sent (exit 2)', async () => {
    for (const argv of [['pseudonym', 'rotate', NODE], ['node', 'register', 'meter-x', '--class', 'meter', '--manufacturer', 'Acme', '--model', 'M1']]) {
      const result = await runCli([...argv, '--server', 'http://127.0.0.1:9', '--token', 'a.b.c', '--command-id', 'not-a-uuid']);
      expect(result.code, result.err).toBe(2);
      expect(result.err).toMatch(/--command-id.*UUID/);
    }
  });
});
