import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { openCredence } from '../adapters/runtime/index.ts';
import { command } from '../domain/commands/index.ts';
import { isCredenceError } from '../domain/errors.ts';
import { PseudonymDeriver, secureEnvironmentPseudonymKey } from '../projections/pseudonyms/index.ts';
import { InspectableSecureEnvironment } from './support/inspectable-secure-environment.ts';
import { cmd, footprint, operator, T0 } from './support/fleet.ts';

/*
 * Review 167 F2. The signed form of rotatePseudonym leaves out the pseudonym, epoch and trigger the service derives
 * (domain/signing/payload.ts), and the docs said rule `derived` checks them; it checked only the pseudonym against the
 * derivation for the node and epoch. So `engine.execute` recorded `trigger: 'interval'` under an operator's signature
 * over `{ nodeId }`, and the audit trail verified it: the operator's word attested a scheduled rotation. A rotation
 * from outside the system is a demand rotation (HTTP and the CLI send nothing else); any other trigger is refused.
 */
const open = async () => {
  const se = InspectableSecureEnvironment.open({ database: ':memory:', kek: { source: 'ephemeral' } }, {
    now: () => new Date(T0),
    random: (n) => new Uint8Array(randomBytes(n)),
  });
  const handle = await se.generate('credence:pseudonyms', 'psk256');
  const key = secureEnvironmentPseudonymKey(se.forOwner('credence:pseudonyms'), handle);
  const c = openCredence({ location: { memory: true }, clock: new FakeClock(T0), pseudonyms: { key, policy: { classes: { 'smart-meter': {} } } } });
  await c.engine.execute(cmd.registerNode('meter-1'));
  await c.settle();
  return { c, deriver: new PseudonymDeriver(key) };
};

const rotation = (pseudonym: string, trigger: string) =>
  command('rotatePseudonym', { nodeId: 'meter-1', pseudonym, epoch: 1, trigger } as never, { actor: operator });

describe('a pseudonym rotation from outside the system', () => {
  it.each(['interval', 'association', 'initial'])('with trigger %s is refused naming data.trigger, and nothing is written', async (trigger) => {
    const { c, deriver } = await open();
    const before = await footprint(c.store);
    const error = await c.engine.execute(rotation(await deriver.node('meter-1', 1), trigger)).catch((e: unknown) => e);
    expect(isCredenceError(error, 'validation') && error.problem.code === 'validation' && error.problem.issues).toEqual([
      expect.objectContaining({ path: 'data.trigger', rule: 'demand_only', message: expect.stringContaining(`not ${trigger}`) }),
    ]);
    expect(await footprint(c.store)).toEqual(before);
    await c.close();
  });

  it('is recorded as a demand rotation with the derived pseudonym, as HTTP and the CLI send it (rotateNow)', async () => {
    const { c, deriver } = await open();
    await c.engine.execute(rotation(await deriver.node('meter-1', 1), 'demand'));
    expect(await c.pseudonyms!.rotateNow('meter-1', operator)).toMatchObject({ outcome: 'rotated', epoch: 2, pseudonym: await deriver.node('meter-1', 2) });
    await c.close();
  });
});
