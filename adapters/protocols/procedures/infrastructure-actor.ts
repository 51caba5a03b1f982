import type { Command } from '../../../domain/commands/index.ts';
import { isCredenceError, validationError } from '../../../domain/errors.ts';
import { SYSTEM_ACTOR_IDS, type Actor } from '../../../domain/metadata.ts';
import { INFRASTRUCTURE_ACTOR_ID, INFRASTRUCTURE_ACTOR_ROLE, INFRASTRUCTURE_COMMAND_TYPES } from '../../../domain/signing/index.ts';
import { authorise } from '../../engine/admission.ts';

/**
 * Refuses an actor for the security procedures (a library's `security.actor`) that the engine's path for them
 * refuses on every command they record: a letter-case variant of `maf:infrastructure`, that id under another role
 * than `operator`, a `system:` id, a role no procedure's command admits. Found in review 154: such an actor was taken
 * when the library opened and refused at its first device (a server fault since, never a reason the device sees), so
 * a deployment learnt of it from a device. Judged by the engine's own rule (admission.ts `authorise`), as the path
 * judges it, so the two cannot part: `authorise` reads a command's type and actor alone. `systemActors` are the
 * engine's (its default unless configured otherwise).
 */
export const assertInfrastructureActor = (actor: Actor, systemActors: readonly string[] = SYSTEM_ACTOR_IDS): void => {
  const admit = authorise(new Set(systemActors));
  for (const type of INFRASTRUCTURE_COMMAND_TYPES) {
    try {
      admit({ type, metadata: { actor } } as unknown as Command, { asSystem: false, asInfrastructure: true, at: new Date(0) });
    } catch (error) {
      if (!isCredenceError(error, 'unauthorised')) throw error;
      throw validationError(
        [{
          path: 'security.actor',
          rule: 'infrastructure_actor',
          message: `${error.message}: the Enrolment Function and the Registrar CSE record under ${INFRASTRUCTURE_ACTOR_ID} as ${INFRASTRUCTURE_ACTOR_ROLE} (or an operator id of yours)`,
        }],
        'options',
      );
    }
  }
};
