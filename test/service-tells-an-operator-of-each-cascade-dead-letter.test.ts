import { describe, expect, it } from 'vitest';
import { deadLetters } from '../projections/cascade/index.ts';
import { ops, settled } from './http-sse.fixtures.ts';
import { placeholderKey } from './support/fleet.ts';
import { useTestService } from './support/service.ts';
import { tamper } from './support/tampered-log.ts';

/*
 * Found in review: the service opened the engine without a cascade log, and nothing outside the tests read the dead
 * letters, so a reaction the cascade gave up on (a broken history) was known to no one. Now each is logged at warn
 * as it is recorded, and their count is a gauge on /metrics.
 */

const svc = useTestService();

const gauge = async (): Promise<number> => {
  const text = await (await fetch(`${svc.url}/metrics`)).text();
  const line = /^credence_cascade_dead_letters (\d+)$/m.exec(text);
  if (line === null) throw new Error('no credence_cascade_dead_letters on /metrics');
  return Number(line[1]);
};

interface LogLine {
  readonly level: number;
  readonly msg: string;
  readonly eventType?: string;
  readonly command?: string;
  readonly stream?: string;
  readonly reason?: string;
}
const deadLetterLines = () => svc.logs().map((l) => JSON.parse(l) as LogLine).filter((l) => l.msg.startsWith('cascade dead letter'));

describe('a cascade dead letter in the running service', () => {
  it('is logged at warn with what an operator needs and no event data, and counted on /metrics', async () => {
    const { engine } = svc.service.context.credence;
    for (const step of [ops.createSubscription('sub-dl'), ops.registerNode('dl'), ops.enrolNode('dl', 'sub-dl'), ops.issueCredential('dl-c1', 'dl'), ops.provisionCredential('dl-c1')]) {
      await engine.execute(step);
    }
    await settled(svc);
    expect(await gauge()).toBe(0);
    expect(deadLetterLines()).toEqual([]);

    // dl-c1's stream is broken (provisioned twice): revoking its node leaves the cascade unable to revoke it.
    await tamper(svc.service.context.credence, 'credential-dl-c1', 'CredentialProvisioned', { credentialId: 'dl-c1', method: 'pre-provisioning' });
    await engine.execute(ops.revokeNode('dl'));
    await settled(svc);

    expect(deadLetters(svc.service.context.credence.readModels).map((d) => [d.eventType, d.command, d.target])).toEqual([['NodeRevoked', 'revokeCredential', 'dl-c1']]);
    expect(await gauge()).toBe(1);
    const [line, ...more] = deadLetterLines();
    expect(more).toEqual([]);
    expect(line).toMatchObject({ level: 40, eventType: 'NodeRevoked', command: 'revokeCredential', stream: 'credential-dl-c1' });
    expect(line!.reason).toContain('credential-dl-c1 has a broken history');
    // Ids and the refusal: nothing of the credential itself (its key) reaches the log.
    expect(JSON.stringify(line)).not.toContain(placeholderKey('dl-c1').publicKey);
  }, 30_000);
});
