import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { command } from '../domain/commands/index.ts';
import { at, cmd, fixture, footprint, operator, rejection, rotateOne } from './support/fleet.ts';
import { useTestService } from './support/service.ts';

/*
 * Found in review (fuzzing): a command whose own id names one of its guards' facts was refused naming `data`, not the
 * field. Every fact a command's data names is read from the same event field (machines/facts.ts); only those of the
 * target's own kind can name the target itself: a credential's predecessor, a rotation's successor (started or
 * abandoned). A bootstrap named as itself is refused by the command schema first (engine-an-entity-is-never-its-own-fact).
 * Given cred-1 rotating onto cred-2 (so each command below would otherwise reach its guards), when a command names
 * its own credential in that field, then the refusal names data.<field>, rule another_entity, and nothing is written.
 */
/** Each command, the field naming its own credential, and that credential; as engine.execute takes it, unparsed. */
const CASES: readonly { readonly name: string; readonly field: string; readonly own: string; readonly command: unknown }[] = [
  { name: 'issueCredential', field: 'predecessorId', own: 'cred-3', command: cmd.issueCredential('cred-3', 'meter-1', at(90), { predecessorId: 'cred-3' }) },
  { name: 'startCredentialRotation', field: 'successorId', own: 'cred-2', command: cmd.startCredentialRotation(at(30), 'cred-2', 'cred-2') },
  {
    name: 'abandonCredentialRotation',
    field: 'successorId',
    own: 'cred-1',
    command: command('abandonCredentialRotation', { credentialId: 'cred-1', successorId: 'cred-1' }, { actor: operator }),
  },
];

describe('a command naming its own entity where another is meant is refused naming the field', () => {
  it.each(CASES)('$name names data.$field', async ({ field, own, command: c }) => {
    const f = fixture();
    await rotateOne(f.engine);
    const before = await footprint(f.store);
    const refused = await rejection(f.engine.execute(c));
    expect(refused.problem.code).toBe('validation');
    const issues = refused.problem.code === 'validation' ? refused.problem.issues : [];
    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatchObject({ path: `data.${field}`, rule: 'another_entity' });
    expect(refused.message).toContain(`data.${field}: names credential-${own} itself`);
    expect(await footprint(f.store)).toEqual(before);
  });
});

describe('over HTTP, the 400 names the body field', () => {
  const svc = useTestService();

  it('POST /v1/commands startCredentialRotation naming c-2 as its own successor: body.data.successorId, nothing written', async () => {
    const { store } = svc.service.context.credence;
    const before = await footprint(store);
    const reply = await fetch(`${svc.url}/v1/commands`, {
      method: 'POST',
      headers: { authorization: `Bearer ${svc.tokens.operator}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        type: 'startCredentialRotation',
        data: { credentialId: 'c-2', successorId: 'c-2', overlapEndsAt: '2030-01-01T00:00:00.000Z' },
        commandId: randomUUID(),
      }),
    });
    expect(reply.status).toBe(400);
    const problem = (await reply.json()) as { errors: { path: string; rule: string; message: string }[] };
    expect(problem.errors).toEqual([
      { path: 'body.data.successorId', rule: 'another_entity', message: 'names credential-c-2 itself where another credential is meant' },
    ]);
    expect(await footprint(store)).toEqual(before);
  });
});
