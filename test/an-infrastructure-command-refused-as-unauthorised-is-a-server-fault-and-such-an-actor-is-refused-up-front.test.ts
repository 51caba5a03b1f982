/**
 * Review 154, finding 2: only a `bad_signature` refusal of what the infrastructure records for a device was made a
 * server fault. An `unauthorised` from its engine path (a library `security.actor` that is a letter-case variant of
 * `maf:infrastructure` or has another role, or a command type outside the procedures' own) reached the device as 403,
 * the reserved id and the procedures' command list in its detail. It is a server fault now, the cause kept for the
 * log; and such an actor is refused as an option, before any device meets it.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { mapRaisedError } from '../adapters/http/map-raised-error.ts';
import { assertInfrastructureActor } from '../adapters/protocols/procedures/infrastructure-actor.ts';
import { executeForDevice, InfrastructureCommandUnauthorised } from '../adapters/protocols/procedures/infrastructure-command.ts';
import { openCredence, type Credence } from '../adapters/runtime/index.ts';
import { command } from '../domain/commands/index.ts';
import { isCredenceError } from '../domain/errors.ts';
import type { Actor } from '../domain/metadata.ts';
import { INFRASTRUCTURE_ACTOR_ID } from '../domain/signing/index.ts';
import { at, operator, profile, T0 } from './support/fleet.ts';

const infrastructure: Actor = { id: INFRASTRUCTURE_ACTOR_ID, role: 'operator' };
const misconfigured: readonly Actor[] = [
  { id: 'MAF:Infrastructure', role: 'operator' },
  { id: INFRASTRUCTURE_ACTOR_ID, role: 'auditor' },
  { id: INFRASTRUCTURE_ACTOR_ID, role: 'integrator' },
  { id: 'system:process-manager', role: 'operator' },
  { id: 'operator:ops', role: 'auditor' },
];

let credence: Credence | undefined;
afterEach(async () => {
  await credence?.close();
  credence = undefined;
});

describe('a refusal of who records for a device is a server fault (review 154)', () => {
  it('answers a device a server fault for an actor or a command type the infrastructure path refuses', async () => {
    credence = openCredence({ location: { memory: true }, clock: new FakeClock(T0) });
    await credence.engine.execute(command('createSubscription', { subscriptionId: 'sub-1', subscriber: 'City', notBefore: T0, notAfter: at(365) }, { actor: operator }));
    const head = await credence.store.headPosition();
    const sent = [
      ...misconfigured.map((actor) => command('registerNode', { nodeId: 'meter-1', profile, bootstrapCredentialId: 'meter-1-boot' }, { actor })),
      // The procedures' own actor, for a command none of them records.
      command('enrolNode', { nodeId: 'meter-1', subscriptionId: 'sub-1', cseId: '/meter-1-cse' }, { actor: infrastructure }),
    ];
    for (const input of sent) {
      const failed = await executeForDevice(credence.engine, input).then(() => undefined, (e: unknown) => e);
      const label = `${input.metadata.actor.id} as ${input.metadata.actor.role}: ${input.type}`;
      expect(failed, label).toBeInstanceOf(InfrastructureCommandUnauthorised);
      expect(isCredenceError(failed), label).toBe(false);
      // The cause, for the service's log.
      expect(String(failed), label).toMatch(new RegExp(`${input.type} was refused: .* is not allowed: `));
      const mapped = mapRaisedError(failed);
      expect({ status: mapped.status, code: mapped.code }, label).toEqual({ status: 500, code: 'internal' });
      expect(mapped.detail, label).not.toMatch(/infrastructure|reserved|registerNode|enrolNode|allowed/i);
    }
    expect(await credence.store.headPosition()).toBe(head);
  });
});

describe('an actor the infrastructure path would refuse is refused as an option', () => {
  it('refuses each, naming security.actor and why', () => {
    for (const actor of misconfigured) {
      const refused = (() => {
        try {
          assertInfrastructureActor(actor);
          return undefined;
        } catch (error) {
          return error;
        }
      })();
      expect(isCredenceError(refused, 'validation'), `${actor.id} as ${actor.role}`).toBe(true);
      expect(String((refused as Error).message)).toMatch(/security\.actor: .* is not allowed: .*record under maf:infrastructure as operator/);
    }
  });

  it('is refused by openCredence before anything is opened, not by the first device', () => {
    for (const actor of misconfigured) {
      const open = () => openCredence({ location: { memory: true }, clock: new FakeClock(T0), security: { se: {} as never, random: () => new Uint8Array(32), actor } });
      expect(open, `${actor.id} as ${actor.role}`).toThrow(/security\.actor: .* is not allowed/);
    }
  });

  it('takes the procedures\' own actor, and an operator id of the deployment\'s', () => {
    expect(() => assertInfrastructureActor(infrastructure)).not.toThrow();
    expect(() => assertInfrastructureActor(operator)).not.toThrow();
  });
});
