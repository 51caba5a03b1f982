import { isCredenceError } from '../../../domain/errors.ts';
import type { Engine } from '../../engine/index.ts';

/**
 * The request-signing policy refused a command the infrastructure records for a device (review 145): a fault of this
 * deployment's configuration (an infrastructure actor other than `maf:infrastructure`, which no policy exempts, or a
 * signature check that failed), never the device's. Not a `CredenceError`: the device is answered as for any server
 * fault, not with the protocol's `bad_signature` (a failed proof of its own), and nothing of the policy reaches it;
 * the reason stays in this error, for the service's log. Like the refusal it stands for, it appended nothing.
 */
export class InfrastructureCommandRefusedBySigningPolicy extends Error {
  constructor(readonly commandType: string, refusal: string) {
    super(`the infrastructure's ${commandType} was refused: ${refusal}`);
    this.name = 'InfrastructureCommandRefusedBySigningPolicy';
  }
}

/**
 * The engine's path for the infrastructure refused its actor or its command (`unauthorised`, review 154): a library
 * `security.actor` that is a letter-case variant of `maf:infrastructure`, or it under another role, or a command type
 * outside INFRASTRUCTURE_COMMAND_TYPES. A fault of this deployment, as the sibling above: the device gets a server
 * fault, where the 403 named the reserved id and the procedures' command list; the reason stays here, for the log.
 * It appended nothing.
 */
export class InfrastructureCommandUnauthorised extends Error {
  constructor(readonly commandType: string, refusal: string) {
    super(`the infrastructure's ${commandType} was refused: ${refusal}`);
    this.name = 'InfrastructureCommandUnauthorised';
  }
}

/**
 * A command the infrastructure records, through the engine's path for it (`executeAsInfrastructure`: the one that may
 * claim `maf:infrastructure`, which `execute` refuses), a refusal of who sends it (the request signature, the actor or
 * the command type admitted there) made a server fault.
 */
export const executeForDevice = async (engine: Engine, command: { readonly type: string }): ReturnType<Engine['executeAsInfrastructure']> => {
  try {
    return await engine.executeAsInfrastructure(command);
  } catch (error) {
    if (isCredenceError(error, 'bad_signature')) throw new InfrastructureCommandRefusedBySigningPolicy(command.type, error.message);
    if (isCredenceError(error, 'unauthorised')) throw new InfrastructureCommandUnauthorised(command.type, error.message);
    throw error;
  }
};
