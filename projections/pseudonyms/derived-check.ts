import type { Command } from '../../domain/commands/index.ts';
import { validationError } from '../../domain/errors.ts';
import type { PseudonymDeriver } from './derive.ts';

type Rotation = Extract<Command, { type: 'rotatePseudonym' }>;

/**
 * A rotation records the pseudonym the pseudonym key derives for its node and epoch, and no other (SER-011,
 * SER-025): the public stream names the node by that derivation, so a value chosen by hand left the directory and
 * the stream disagreeing (an auditor could not resolve what integrators saw, and resolved a value they never saw).
 * The rotation process derives the value itself; a rotation from outside (an operator's command) is checked here,
 * as an admission step of the engine, before anything is read or written. Other commands pass without a promise.
 * From outside, a rotation is also one on demand (rule `demand_only`): the interval, association and initial
 * rotations are the rotation process's, as system. An operator's signature covers the node alone, the trigger being
 * the service's word (domain/signing/payload.ts), so without this rule it attested whatever trigger the command
 * named (review 167: `interval` recorded, under a signature over `{ nodeId }`, and verified).
 */
export const rotationIsDerived =
  (deriver: PseudonymDeriver) =>
  (command: Command, via: { readonly asSystem: boolean }): Promise<void> | undefined =>
    command.type !== 'rotatePseudonym' || via.asSystem ? undefined : checkDerived(deriver, command as Rotation);

const checkDerived = async (deriver: PseudonymDeriver, { data }: Rotation): Promise<void> => {
  const issues = [];
  if (data.trigger !== 'demand') {
    issues.push({
      path: 'data.trigger',
      rule: 'demand_only',
      message: `must be demand, not ${data.trigger}: an operator's rotation is on demand; the other triggers are the rotation process's`,
    });
  }
  if (data.pseudonym !== (await deriver.node(data.nodeId, data.epoch))) {
    issues.push({ path: 'data.pseudonym', rule: 'derived', message: `must be the pseudonym the pseudonym key derives for node ${data.nodeId} at epoch ${data.epoch}` });
  }
  if (issues.length > 0) throw validationError(issues, 'command');
};
