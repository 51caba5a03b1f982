import { afterEach, describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { openCredence, type Credence } from '../adapters/runtime/index.ts';
import { register as lifecycleCommands } from '../bin/commands/lifecycle.ts';
import { runCommands } from '../bin/program.ts';
import { command } from '../domain/commands/index.ts';
import { eventIdFor } from '../domain/event-ids.ts';
import { ExpectedRevision } from '../domain/ports/event-store.ts';
import { cmd, establishOne, fixture, footprint, operator, rejection, T0 } from './support/fleet.ts';
import { settled } from './http-sse.fixtures.ts';
import { startTestService } from './support/service.ts';

/*
 * A revocation in Credence is permanent, and the CRLs and OCSP publish its reason. RFC 5280 5.3.1 defines
 * `certificateHold` as a temporary hold, released by `removeFromCRL`: a relying party may treat a credential so revoked
 * as possibly coming back. `aACompromise` concerns attribute authorities, not a public-key certificate; `removeFromCRL`
 * is never a revocation reason. Found in review: revokeCredential accepted `certificateHold`, and the CRLs and OCSP
 * published "Certificate Hold". A new revocation now refuses all three (validation, `data.reason`); a log that
 * already holds one still reads and replays, and the cascade carries a stored reason on as it was recorded.
 */

const REFUSED = [
  ['certificateHold', 'new_revocation_reason'],
  ['aACompromise', 'new_revocation_reason'],
  ['removeFromCRL', 'invalid_value'],
] as const;

let credence: Credence | undefined;
afterEach(async () => {
  await credence?.close();
  credence = undefined;
});

describe('a new revocation refuses a reason that says it is not permanent', () => {
  it('given a live credential, node and association, when an operator revokes one for such a reason, then it is refused naming data.reason and nothing is written', async () => {
    const f = fixture();
    await establishOne(f.engine);
    const before = await footprint(f.store);
    const stateBefore = (await f.engine.entity('credential', 'cred-1')).snapshot.value;
    expect(stateBefore).not.toBe('revoked');
    const revocations = (reason: string) => [
      command('revokeCredential', { credentialId: 'cred-1', reason }, { actor: operator }),
      command('revokeNode', { nodeId: 'meter-1', reason }, { actor: operator }),
      command('revokeAssociation', { associationId: 'sa-1', reason }, { actor: operator }),
      command('endApplicationEnrolment', { appId: 'Rbill', credentialId: 'cred-1', reason }, { actor: operator }),
    ];
    for (const [reason, rule] of REFUSED) {
      for (const c of revocations(reason)) {
        const error = await rejection(f.engine.execute(c));
        expect(error.problem, `${c.type} ${reason}`).toMatchObject({ code: 'validation', issues: [{ path: 'data.reason', rule, message: expect.stringMatching(new RegExp(reason)) }] });
      }
    }
    expect(await footprint(f.store)).toEqual(before);
    expect((await f.engine.entity('credential', 'cred-1')).snapshot.value).toBe(stateBefore);
    // The refusal names the reasons a revocation may give: every other one of RFC 5280 5.3.1.
    const refusal = await rejection(f.engine.execute(cmd.revokeCredential('cred-1', 'certificateHold')));
    expect(refusal.message).toContain('give one of unspecified, keyCompromise, cACompromise, affiliationChanged, superseded, cessationOfOperation, privilegeWithdrawn');
    await f.engine.execute(cmd.revokeCredential('cred-1', 'keyCompromise'));
    expect((await f.engine.entity('credential', 'cred-1')).snapshot.value).toBe('revoked');
  });

  it('POST /v1/commands answers 400 naming body.data.reason and the rule, and writes nothing', async () => {
    const svc = await startTestService();
    try {
      const post = (body: unknown) =>
        fetch(`${svc.url}/v1/commands`, { method: 'POST', headers: { authorization: `Bearer ${svc.tokens.operator}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
      for (const c of [cmd.createSubscription(), cmd.registerNode(), cmd.enrolNode()]) {
        expect((await post({ type: c.type, data: c.data })).status, c.type).toBe(201);
      }
      // The service's own reactions (the node's first pseudonym) append after the commands: the baseline waits for them.
      await settled(svc);
      const before = await footprint(svc.service.context.credence.store);
      for (const type of ['revokeNode', 'revokeCredential']) {
        const answer = await post({ type, data: type === 'revokeNode' ? { nodeId: 'meter-1', reason: 'certificateHold' } : { credentialId: 'cred-1', reason: 'certificateHold' } });
        expect(answer.status, type).toBe(400);
        expect(await answer.json(), type).toMatchObject({ status: 400, errors: [{ path: 'body.data.reason', rule: 'new_revocation_reason' }] });
      }
      expect(await footprint(svc.service.context.credence.store)).toEqual(before);
      expect((await svc.service.context.credence.engine.entity('node', 'meter-1')).snapshot.value).not.toBe('revoked');
    } finally {
      await svc.close();
    }
  }, 60_000);

  it('credence credential revoke --reason certificateHold is bad usage naming --reason, before anything is sent', async () => {
    const err: string[] = [];
    const code = await runCommands(
      [lifecycleCommands],
      ['credential', 'revoke', 'cred-1', '--reason', 'certificateHold', '--server', 'http://127.0.0.1:9', '--token', 'x'],
      { out: () => {}, err: (line) => err.push(line), env: {} },
    );
    expect(code).toBe(2);
    // The option's choices are the reasons a new revocation may give: the help lists no other.
    expect(err.join('\n')).toMatch(/--reason <reason>' argument 'certificateHold' is invalid\. Allowed choices are unspecified, keyCompromise, cACompromise, affiliationChanged, superseded, cessationOfOperation, privilegeWithdrawn\./);
  });

  it('a log that already holds a certificateHold revocation still reads and replays, and its cascade carries the reason on; a new one is refused', async () => {
    const clock = new FakeClock(T0);
    const c = (credence = openCredence({ location: { memory: true }, clock }));
    await establishOne(c.engine);
    // As a version before this rule stored it: the operator's revokeCredential, reason certificateHold.
    const commandId = crypto.randomUUID();
    await c.store.appendToStream('credential-cred-1', [{
      id: eventIdFor(commandId, 0), type: 'CredentialRevoked', data: { credentialId: 'cred-1', reason: 'certificateHold' },
      metadata: { schemaVersion: 1, actor: operator, commandId, commandType: 'revokeCredential', correlationId: commandId, causationId: commandId, occurredAt: clock.now().toISOString() },
    }], { expectedRevision: ExpectedRevision.any });
    await c.settle();
    const credential = await c.engine.entity('credential', 'cred-1');
    expect([credential.snapshot.value, (credential.snapshot.context as { revocationReason?: string }).revocationReason]).toEqual(['revoked', 'certificateHold']);
    // The cascade (the system actor) revoked the association with the reason recorded, rather than a dead letter.
    const association = await c.engine.entity('association', 'sa-1');
    expect([association.snapshot.value, (association.snapshot.context as { revocationReason?: string }).revocationReason]).toEqual(['revoked', 'certificateHold']);

    // A new revocation for that reason is refused (only the cascade carries a stored one on, above).
    await c.engine.execute(cmd.issueCredential('cred-2'));
    const before = await footprint(c.store);
    const stateBefore = (await c.engine.entity('credential', 'cred-2')).snapshot.value;
    expect((await rejection(c.engine.execute(cmd.revokeCredential('cred-2', 'certificateHold')))).problem).toMatchObject({ code: 'validation', issues: [{ path: 'data.reason', rule: 'new_revocation_reason' }] });
    expect(await footprint(c.store)).toEqual(before);
    expect((await c.engine.entity('credential', 'cred-2')).snapshot.value).toBe(stateBefore);

    // Replayed by another runtime over the same log: the same.
    const store = c.store;
    const replayed = openCredence({ location: { memory: true }, clock, store });
    try {
      await replayed.settle();
      const again = await replayed.engine.entity('credential', 'cred-1');
      expect([again.snapshot.value, (again.snapshot.context as { revocationReason?: string }).revocationReason]).toEqual(['revoked', 'certificateHold']);
      let read = 0;
      for await (const e of store.readAll()) if (e.type === 'CredentialRevoked' && (e.data as { reason: string }).reason === 'certificateHold') read++;
      expect(read).toBe(1);
    } finally {
      await c.close();
      credence = undefined;
      await replayed.close();
    }
  });
});
