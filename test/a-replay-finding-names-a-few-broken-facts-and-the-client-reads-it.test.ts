import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { openSqliteStore } from '../adapters/driven/store/index.ts';
import { createEngine } from '../adapters/engine/index.ts';
import { operatorClient } from '../adapters/client/operator.ts';
import { stateAt } from '../projections/audit/index.ts';
import { BROKEN_FACTS_NAMED, FINDING_REASON_MAX, refusalWithBrokenFacts } from '../projections/replay/finding-reason.ts';
import { replayAll, replayEntity } from '../projections/replay/index.ts';
import { forge } from './replay.fixtures.ts';
import { at, cmd, issueCredentialData, T0 } from './support/fleet.ts';

/*
 * Review 259: a replay finding's reason appended every "it depends on …" of its broken facts, each quoting that
 * fact's whole reason, its own dependencies included: 6,909 characters on an upgraded folder. The client read at most
 * 4,000, so `credence state --at` and `credence history` through a server failed with "unexpected answer from server"
 * on the entity docs/service.md tells operators to inspect.
 */

/** As the routes send it: positions and revisions as decimal strings. */
const wire = (answer: unknown): string => JSON.stringify(answer, (_key, value: unknown) => (typeof value === 'bigint' ? value.toString(10) : value));

/** A server on 127.0.0.1 answering every request with 200 and `body`, read by the operator client. */
const answering = async <T>(body: string, read: (client: ReturnType<typeof operatorClient>) => Promise<T>): Promise<T> => {
  const server: Server = createServer((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(body));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    return await read(operatorClient(`http://127.0.0.1:${(server.address() as AddressInfo).port}`, 'token'));
  } finally {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
};

/** cred-1 … cred-<n> each naming the one before its predecessor, the first naming one never issued: each is refused. */
const chainOfBrokenCredentials = async (n: number) => {
  const store = openSqliteStore({ memory: true });
  const engine = createEngine({ store, clock: new FakeClock(T0) });
  for (const c of [cmd.createSubscription(), cmd.registerNode()]) await engine.execute(c);
  for (let i = 1; i <= n; i++) {
    const data = { ...issueCredentialData(`chain-${i}`, 'meter-1', { notBefore: T0, notAfter: at(90) }), predecessorId: i === 1 ? 'ghost' : `chain-${i - 1}` };
    await forge(store, `credential-chain-${i}`, 'CredentialIssued', data, T0);
  }
  return store;
};

describe("a replay finding's reason", () => {
  it('quotes a broken fact by its own refusal, so a long chain of them stays within the bound the client reads', async () => {
    const store = await chainOfBrokenCredentials(30);
    const last = await replayEntity(store, 'credential-chain-30');
    expect(last.verdict.ok).toBe(false);
    const [finding] = last.verdict.ok ? [] : last.verdict.findings;
    expect(finding!.reason.length).toBeLessThanOrEqual(FINDING_REASON_MAX);
    // The fact it read is still named, with the refusal that broke it and that it depends on another in turn.
    expect(finding!.reason).toMatch(/predecessorIsLive: .*; it depends on credential-chain-29 has a broken history at position \d+: CredentialIssued refused .*predecessorIsLive: .* \(itself reading a fact with a broken history\)$/);
    // The fleet replay words the refusal itself alike.
    const fleet = (await replayAll(store)).findings.find((f) => f.streamId === 'credential-chain-30');
    expect(finding!.reason.startsWith(fleet!.reason)).toBe(true);

    // Through the client, as `credence history --server` and `credence state --server` read it.
    const history = await answering(wire(last), (client) => client.replayEntity('credential', 'chain-30'));
    expect(history.verdict).toEqual(JSON.parse(wire(last.verdict)));
    const state = await stateAt(store, 'credential-chain-30', new Date(at(1)));
    const read = await answering(wire(state), (client) => client.stateAt('credential', 'chain-30', at(1)));
    expect(read.verdict).toEqual(JSON.parse(wire(state.verdict)));
    await store.close();
  });

  it(`names the first ${BROKEN_FACTS_NAMED} broken facts and counts the others, within the bound whatever their length`, () => {
    const fact = (i: number, length = 100) => `node-n${i} has a broken history at position ${i}: ${'x'.repeat(length)}`;
    const eight = refusalWithBrokenFacts('X refused in state s by rule r', [1, 2, 3, 4, 5, 6, 7, 8].map((i) => fact(i)));
    expect(eight.split('; it depends on ').slice(1, 6).map((s) => s.split(' ')[0])).toEqual(['node-n1', 'node-n2', 'node-n3', 'node-n4', 'node-n5']);
    expect(eight).toMatch(/; it depends on 3 more facts with a broken history$/);
    const long = refusalWithBrokenFacts('y'.repeat(5_000), [1, 2, 3].map((i) => fact(i, 800)));
    expect(long.length).toBeLessThanOrEqual(FINDING_REASON_MAX);
    expect(long).toMatch(/; it depends on node-n1 has a broken history at position 1: x+; it depends on 2 more facts with a broken history$/);
  });

  it('past what the client reads from an older server is cut, not the whole answer refused', async () => {
    const reason = `AssociationConfigured refused in state absent by rule appCredentialIsEnrolled: ${'z'.repeat(6_909)}`;
    const finding = { streamId: 'application-Rbad', position: '77', revision: '0', type: 'AssociationConfigured', reason };
    const answer = { streamId: 'application-Rbad', state: 'enrolled', steps: [{ position: '77', revision: '0', type: 'AssociationConfigured', accepted: false, state: 'enrolled', reason }], verdict: { ok: false, findings: [finding] } };
    const read = await answering(JSON.stringify(answer), (client) => client.replayEntity('application', 'Rbad'));
    const told = read.verdict.ok ? '' : read.verdict.findings[0]!.reason;
    expect(told.startsWith(reason.slice(0, 1_000))).toBe(true);
    expect(told.endsWith('…')).toBe(true);
    expect(told.length).toBeLessThanOrEqual(2 * FINDING_REASON_MAX + 1);
  });
});
