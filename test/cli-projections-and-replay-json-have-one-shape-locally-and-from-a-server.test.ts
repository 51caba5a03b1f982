/**
 * Review 150: reading gives the same output locally and from a server (README), but `credence projections --json` was
 * a bare list of lags locally, without the dead letters, and the server's document through --server; `credence
 * replay --json` put how the verdict was reached under `verification` locally and at the top from a server, whose
 * text then said "replayed N events" over an incremental verdict that verified none of them now.
 */
import { describe, expect, it } from 'vitest';
import { ops, settled } from './http-sse.fixtures.ts';
import { runCli } from './support/cli.ts';
import { useTestService } from './support/service.ts';
import { tamper } from './support/tampered-log.ts';

const svc = useTestService();

const fromServer = (...argv: string[]) => runCli([...argv, '--server', svc.url, '--token', svc.tokens.auditor]);
/** On the service's own data folder, beside it: read as it keeps it, nothing written. */
const fromFolder = (...argv: string[]) => runCli([...argv, '--data', svc.dir]);
const parsed = (run: { code: number; out: string; err: string }, code = 0): Record<string, unknown> => {
  expect(run.code, run.err).toBe(code);
  return JSON.parse(run.out) as Record<string, unknown>;
};

describe('credence projections --json', () => {
  it('is the document GET /v1/projections answers on the data folder too, with the same dead letters', async () => {
    const { credence } = svc.service.context;
    for (const step of [ops.createSubscription('sub-shape'), ops.registerNode('shape'), ops.enrolNode('shape', 'sub-shape'), ops.issueCredential('shape-c1', 'shape'), ops.provisionCredential('shape-c1')]) {
      await credence.engine.execute(step);
    }
    // A broken stream: revoking its node leaves the cascade a dead letter, listed by both.
    await tamper(credence, 'credential-shape-c1', 'CredentialProvisioned', { credentialId: 'shape-c1', method: 'pre-provisioning' });
    await credence.engine.execute(ops.revokeNode('shape'));
    await settled(svc);

    const remote = parsed(await fromServer('projections', '--json'));
    const local = parsed(await fromFolder('projections', '--json'));
    expect(Object.keys(local).sort()).toEqual(Object.keys(remote).sort());
    for (const key of ['cascadeDeadLetters', 'cascadeDeadLettersTotal', 'expiryDeadLetters', 'expiryDeadLettersTotal']) expect(local[key], key).toEqual(remote[key]);
    expect(local['cascadeDeadLettersTotal']).toBe(1);
    expect(local['lag']).toEqual({ eventsBehind: expect.any(Number), secondsBehind: expect.any(Number) });
    // The projections a data folder has, each as the server names its component (the pseudonym directory too, review
    // 233); the service runs others besides.
    const components = (doc: Record<string, unknown>) => doc['components'] as { name: string; checkpoint?: string }[];
    const served = new Map(components(remote).map((c) => [c.name, c]));
    expect(components(local).map((c) => c.name)).toEqual(['cascade', 'expiry', 'audit', 'compliance', 'entities', 'pki', 'pseudonyms']);
    for (const c of components(local)) expect(Object.keys(c).sort(), c.name).toEqual(Object.keys(served.get(c.name)!).filter((k) => k !== 'error').sort());
  }, 30_000);
});

describe('credence replay --json and its text', () => {
  // Exit 1 throughout: the stream broken above is a finding.
  it('say how the verdict was reached under `verification`, from a server as locally, and the text says an incremental one', async () => {
    const first = parsed(await fromServer('replay', '--json', '--full'), 1);
    expect(first['verification']).toEqual({ mode: 'full', verifiedNow: first['events'], notes: [] });
    const again = parsed(await fromServer('replay', '--json'), 1);
    expect(again['verification']).toEqual({ mode: 'incremental', verifiedNow: 0, notes: [] });
    expect(again).not.toHaveProperty('mode');
    expect(again).not.toHaveProperty('verifiedNow');

    const local = parsed(await fromFolder('replay', '--json'), 1);
    expect(Object.keys(local).sort()).toEqual(Object.keys(again).sort());
    expect(local).toMatchObject({ ok: false, findingsTotal: again['findingsTotal'], brokenStreamsTotal: 1, verification: { mode: 'full' } });

    const text = await fromServer('replay');
    expect(text.code, text.err).toBe(1);
    expect(text.out).toMatch(new RegExp(`^replayed ${String(again['events'])} events \\(0 new since the server's previous verdict; --full verifies them all again\\)$`, 'm'));
  }, 30_000);
});
