/**
 * Review 237: `credence history` said a revocation and its raise to keyCompromise as two identical lines, with no
 * reason, no rotation's successor or overlap end, and --json had none of them; `credence state --at` named as `asOf` an
 * event the machine refused, and said nothing of a fact with a broken history that an accepted event read (history
 * flags it). The same locally and from a server.
 */
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { command } from '../domain/commands/index.ts';
import { ExpectedRevision } from '../domain/ports/event-store.ts';
import { currentVersionOf } from '../domain/upcasters.ts';
import { ops, registrationMetadata, settled } from './http-sse.fixtures.ts';
import { runCli } from './support/cli.ts';
import { issueCredentialData, operator } from './support/fleet.ts';
import { useTestService } from './support/service.ts';
import { tamper } from './support/tampered-log.ts';

const svc = useTestService();
const DAY = 86_400_000;
const fromNow = (days: number): string => new Date(Date.now() + days * DAY).toISOString();

const fromServer = (...argv: string[]) => runCli([...argv, '--server', svc.url, '--token', svc.tokens.auditor]);
const fromFolder = (...argv: string[]) => runCli([...argv, '--data', svc.dir]);
const both = async (...argv: string[]) => ({ local: await fromFolder(...argv), remote: await fromServer(...argv) });
type Step = { type: string; accepted: boolean; data?: Record<string, string>; raisedFrom?: string };
const stepsOf = (run: { code: number; out: string; err: string }): Step[] => {
  expect(run.code, run.err).toBe(0);
  return (JSON.parse(run.out) as { steps: Step[] }).steps;
};

describe('credence history and credence state --at', () => {
  it('say a revocation reason, its raise, and a rotation with its successor, predecessor and overlap end', async () => {
    const { engine } = svc.service.context.credence;
    const overlapEndsAt = fromNow(10);
    for (const c of [
      ops.createSubscription('sub-h'), ops.registerNode('h-1'), ops.enrolNode('h-1', 'sub-h'),
      ops.issueCredential('h-c1', 'h-1'), ops.provisionCredential('h-c1'),
      command('issueCredential', { ...issueCredentialData('h-c2', 'h-1', { notBefore: fromNow(-1), notAfter: fromNow(90) }), predecessorId: 'h-c1' }, { actor: operator }),
      ops.provisionCredential('h-c2'),
      command('startCredentialRotation', { credentialId: 'h-c1', successorId: 'h-c2', overlapEndsAt }, { actor: operator }),
      ops.issueCredential('h-c3', 'h-1'), ops.provisionCredential('h-c3'),
      command('revokeCredential', { credentialId: 'h-c3', reason: 'cessationOfOperation' }, { actor: operator }),
      command('revokeCredential', { credentialId: 'h-c3', reason: 'keyCompromise' }, { actor: operator }),
    ]) await engine.execute(c);
    await settled(svc);

    const revoked = await both('history', 'credential-h-c3', '--json');
    for (const run of [revoked.local, revoked.remote]) {
      const [first, raise] = stepsOf(run).filter((s) => s.type === 'CredentialRevoked');
      expect(first).toMatchObject({ accepted: true, data: { reason: 'cessationOfOperation' } });
      expect(first).not.toHaveProperty('raisedFrom');
      expect(raise).toMatchObject({ accepted: true, data: { reason: 'keyCompromise' }, raisedFrom: 'cessationOfOperation' });
    }
    expect(stepsOf(revoked.local)).toEqual(stepsOf(revoked.remote));
    const text = await both('history', 'credential-h-c3');
    for (const run of [text.local, text.remote]) {
      const lines = run.out.split('\n').filter((l) => l.includes('CredentialRevoked'));
      expect(lines[0]).toMatch(/reason: cessationOfOperation/);
      expect(lines[1]).toMatch(/reason: keyCompromise, raised from cessationOfOperation/);
    }

    const rotated = await both('history', 'credential-h-c1', '--json');
    for (const run of [rotated.local, rotated.remote]) {
      expect(stepsOf(run).find((s) => s.type === 'CredentialRotationStarted')).toMatchObject({ data: { successorId: 'h-c2', overlapEndsAt } });
    }
    const successor = await both('history', 'credential-h-c2', '--json');
    for (const run of [successor.local, successor.remote]) {
      const issued = stepsOf(run).find((s) => s.type === 'CredentialIssued');
      // What the event said that an auditor needs, and nothing else of it (no key, no owner).
      expect(issued?.data).toEqual({ predecessorId: 'h-c1' });
    }
    const rotatedText = await fromServer('history', 'credential-h-c1');
    expect(rotatedText.out).toMatch(new RegExp(`CredentialRotationStarted.*successorId: h-c2, overlapEndsAt: ${overlapEndsAt.replace(/\./g, '\\.')}`));
  }, 60_000);

  it('names as asOf the last event the machine accepted, and the refused one after it apart', async () => {
    const { credence } = svc.service.context;
    for (const c of [ops.createSubscription('sub-f'), ops.registerNode('f-1'), ops.enrolNode('f-1', 'sub-f'), ops.issueCredential('f-c1', 'f-1'), ops.provisionCredential('f-c1')]) {
      await credence.engine.execute(c);
    }
    // A second issuance, written raw: its machine refuses it.
    const [issued] = await credence.store.readStream('credential-f-c1');
    await tamper(credence, 'credential-f-c1', 'CredentialIssued', issued!.data as Record<string, unknown>);
    await settled(svc);

    const at = fromNow(1);
    for (const run of Object.values(await both('state', 'credential-f-c1', '--at', at, '--json'))) {
      expect(run.code, run.err).toBe(1);
      const answer = JSON.parse(run.out) as Record<string, unknown>;
      expect(answer['asOf']).toMatchObject({ type: 'CredentialProvisioned', revision: '1' });
      expect(answer['lastStored']).toMatchObject({ type: 'CredentialIssued', revision: '2' });
    }
    for (const run of Object.values(await both('state', 'credential-f-c1', '--at', at))) {
      expect(run.code).toBe(1);
      expect(run.out).toMatch(/: enrolled, after #1 CredentialProvisioned/);
      expect(run.out).toMatch(/last stored: #2 CredentialIssued @\d+ \(refused\)/);
    }
  }, 60_000);

  it('says a fact with a broken history that an accepted event read, as history does', async () => {
    const { credence } = svc.service.context;
    await credence.engine.execute(ops.registerNode('b-9'));
    // An enrolment under a subscription that does not exist, written raw: replay refuses it.
    const commandId = randomUUID();
    const metadata = { ...registrationMetadata(commandId), schemaVersion: currentVersionOf('NodeEnrolled'), commandType: 'enrolNode' };
    const data = { nodeId: 'b-9', subscriptionId: 'sub-none', cseId: '/cse-b-9' };
    await credence.store.appendToStream('node-b-9', [{ id: randomUUID(), type: 'NodeEnrolled', data, metadata }], { expectedRevision: ExpectedRevision.any });
    await credence.engine.execute(ops.issueCredential('b-c9', 'b-9'));
    await settled(svc);

    const history = await fromServer('history', 'credential-b-c9');
    expect(history.code).toBe(0);
    expect(history.out).toMatch(/node-b-9 has a broken history/);
    const at = fromNow(1);
    for (const run of Object.values(await both('state', 'credential-b-c9', '--at', at, '--json'))) {
      expect(run.code, run.err).toBe(0);
      const answer = JSON.parse(run.out) as { verdict: { ok: boolean }; brokenFacts?: string[] };
      expect(answer.verdict.ok).toBe(true);
      expect(answer.brokenFacts).toEqual([expect.stringMatching(/^node-b-9 has a broken history at position \d+/)]);
    }
    for (const run of Object.values(await both('state', 'credential-b-c9', '--at', at))) {
      expect(run.code, run.err).toBe(history.code);
      expect(run.err).toMatch(/node-b-9 has a broken history at position \d+/);
    }
  }, 60_000);
});
