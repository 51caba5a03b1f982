/**
 * Found in review: openCredence built its runner with `onRulesChanged: 'rebuild'`, so a library script that opened a
 * service's data folder with no `signing` and settled re-judged the audit trail built under the deployment's policy
 * as "no policy": its verified and invalid rows became `signed`, and nobody was told. openCredence now refuses
 * (ReadModelRulesChanged, nothing written) unless told it holds the deployment's policy
 * (`onReadModelRulesChanged: 'rebuild'`), which only the service (startService) says.
 */
import { describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { openCredence, type OpenOptions } from '../adapters/runtime/index.ts';
import { storedSignatureRules } from '../domain/signing/index.ts';
import { SIGNATURE_PRESENCE_RULES } from '../projections/audit/index.ts';
import { ReadModelRulesChanged } from '../projections/runtime/index.ts';
import { T0 } from './support/fleet.ts';
import { startTestService } from './support/service.ts';
import { folderBuiltUnderThePolicy, otherPolicy, policy, readModelRows, statuses } from './support/signed-folder.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

const folder = temporaryFolders('credence-open-rules-');

/** Opens the folder as a script would, settles, closes; the settle's refusal, if any. */
const settleAs = async (dir: string, options: Partial<OpenOptions>): Promise<unknown> => {
  const c = openCredence({ location: { dir }, clock: new FakeClock(T0), ...options });
  try {
    await c.settle();
    return undefined;
  } catch (error) {
    return error;
  } finally {
    await c.close();
  }
};

describe('openCredence on a folder whose audit trail another signing policy built', () => {
  for (const [given, options, rules] of [
    ['no signing policy', {}, SIGNATURE_PRESENCE_RULES],
    ['another signing policy', { signing: otherPolicy }, storedSignatureRules(otherPolicy)],
  ] as const) {
    it(`refuses to settle under ${given}, naming both policies, and writes nothing`, async () => {
      const dir = await folderBuiltUnderThePolicy(folder());
      const before = readModelRows(dir);

      const refused = await settleAs(dir, options);
      expect(refused).toBeInstanceOf(ReadModelRulesChanged);
      expect((refused as ReadModelRulesChanged).code).toBe('read_model_rules_changed');
      expect((refused as ReadModelRulesChanged).change).toEqual({ name: 'audit', recorded: storedSignatureRules(policy), given: rules });
      expect((refused as Error).message).toContain(storedSignatureRules(policy).description);
      expect((refused as Error).message).toContain(rules.description);
      expect(readModelRows(dir)).toEqual(before);
      expect(statuses(dir)).toEqual([['verified'], ['invalid']]);
    });
  }

  it('settles under the policy that built it, rebuilding nothing', async () => {
    const dir = await folderBuiltUnderThePolicy(folder());
    expect(await settleAs(dir, { signing: policy })).toBeUndefined();
    expect(statuses(dir)).toEqual([['verified'], ['invalid']]);
  });

  it("rebuilds it under its own policy only when told it holds the deployment's (onReadModelRulesChanged: 'rebuild')", async () => {
    const dir = await folderBuiltUnderThePolicy(folder());
    expect(await settleAs(dir, { signing: otherPolicy, onReadModelRulesChanged: 'rebuild' })).toBeUndefined();
    // Alice's signature does not verify under Bob's key: both rows re-judged invalid.
    expect(statuses(dir)).toEqual([['invalid'], ['invalid']]);
  });
});

describe('the service on a folder whose audit trail another signing policy built', () => {
  it('rebuilds the audit trail under its own policy before it serves, and says so at warn', async () => {
    const dir = await folderBuiltUnderThePolicy(folder());
    // Started with no policy: the service holds the deployment's (here none), so it re-judges the record by it.
    const svc = await startTestService({ dir });
    try {
      const warned = svc.logs().map((l) => JSON.parse(l) as { level: number; msg: string; projection?: string }).filter((l) => l.msg.startsWith('read model rebuilt'));
      expect(warned).toEqual([expect.objectContaining({ level: 40, projection: 'audit' })]);
      expect(warned[0]!.msg).toContain(storedSignatureRules(policy).description);
      expect(warned[0]!.msg).toContain(SIGNATURE_PRESENCE_RULES.description);
    } finally {
      await svc.close();
    }
    expect(statuses(dir)).toEqual([['signed'], ['signed']]);
  }, 30_000);
});
