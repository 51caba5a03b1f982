/**
 * Found in review: `credence projections rebuild all --data DIR` without `--signing` rebuilt the audit trail under no
 * policy (its verified and invalid rows became `signed`): the runner's reset recorded its own rules over the recorded
 * ones without comparing them, past the refusal a query gets. `all` is now refused when the audit trail's recorded
 * policy differs from the one given (or none), naming both, and rebuilds nothing, not even the other read models;
 * naming `audit` is the explicit way to change its policy, and every rebuild says which policy it rebuilt under.
 */
import { describe, expect, it } from 'vitest';
import { main } from '../bin/cli.ts';
import { storedSignatureRules } from '../domain/signing/index.ts';
import { SIGNATURE_PRESENCE_RULES } from '../projections/audit/index.ts';
import { capture } from './support/cli.ts';
import { folderBuiltUnderThePolicy, otherPolicy, policy, policyFile, readModelRows, statuses } from './support/signed-folder.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

const folder = temporaryFolders('credence-rebuild-rules-');

const cli = async (argv: string[]) => {
  const c = capture();
  const code = await main(argv, c.io);
  return { code, out: c.out, err: c.err };
};

describe('credence projections rebuild all on a folder whose audit trail a signing policy built', () => {
  it('without --signing is refused, naming both policies, and rebuilds no read model', async () => {
    const dir = await folderBuiltUnderThePolicy(folder());
    const before = readModelRows(dir);

    const run = await cli(['projections', 'rebuild', 'all', '--data', dir]);
    expect(run.code).toBe(1);
    const said = run.err.join('\n');
    expect(said).toMatch(/refused \(read_model_rules_changed\)/);
    expect(said).toContain(storedSignatureRules(policy).description);
    expect(said).toContain(`not under ${SIGNATURE_PRESENCE_RULES.description}`);
    expect(said).toMatch(/credence projections rebuild audit --signing FILE/);
    expect(run.out).toEqual([]);
    // All or nothing: not the audit trail, nor the compliance, entities or expiry read models, nor a checkpoint.
    expect(readModelRows(dir)).toEqual(before);
    expect(statuses(dir)).toEqual([['verified'], ['invalid']]);
  });

  it('with another --signing is refused the same way (--json: both policies named)', async () => {
    const dir = await folderBuiltUnderThePolicy(folder());
    const before = readModelRows(dir);
    const run = await cli(['projections', 'rebuild', 'all', '--data', dir, '--signing', policyFile(dir, otherPolicy), '--json']);
    expect(run.code).toBe(1);
    expect(JSON.parse(run.out.join('\n'))).toMatchObject({
      code: 'read_model_rules_changed',
      projection: 'audit',
      recorded: storedSignatureRules(policy).description,
      given: storedSignatureRules(otherPolicy).description,
    });
    expect(readModelRows(dir)).toEqual(before);
  });

  it('with the --signing that built it rebuilds every read model and says the audit trail was rebuilt under it', async () => {
    const dir = await folderBuiltUnderThePolicy(folder());
    const run = await cli(['projections', 'rebuild', 'all', '--data', dir, '--signing', policyFile(dir, policy)]);
    expect(run.code, run.err.join('\n')).toBe(0);
    expect(run.out).toContain(`rebuilt audit from position 0: 2 events, under ${storedSignatureRules(policy).description}`);
    expect(run.out.some((l) => l.startsWith('rebuilt compliance from position 0'))).toBe(true);
    expect(statuses(dir)).toEqual([['verified'], ['invalid']]);
  });
});

describe('credence projections rebuild audit, named, is the explicit way to change its policy', () => {
  it('without --signing rebuilds it under no policy and says so', async () => {
    const dir = await folderBuiltUnderThePolicy(folder());
    const run = await cli(['projections', 'rebuild', 'audit', '--data', dir]);
    expect(run.code, run.err.join('\n')).toBe(0);
    expect(run.out).toEqual([`rebuilt audit from position 0: 2 events, under ${SIGNATURE_PRESENCE_RULES.description}`]);
    expect(statuses(dir)).toEqual([['signed'], ['signed']]);
  });

  it('with --signing FILE rebuilds it under FILE (--json names the policy)', async () => {
    const dir = await folderBuiltUnderThePolicy(folder());
    const run = await cli(['projections', 'rebuild', 'audit', '--data', dir, '--signing', policyFile(dir, otherPolicy), '--json']);
    expect(run.code, run.err.join('\n')).toBe(0);
    expect(JSON.parse(run.out.join('\n'))).toEqual({ rebuilt: [{ name: 'audit', events: 2, rules: storedSignatureRules(otherPolicy).description }] });
    expect(statuses(dir)).toEqual([['invalid'], ['invalid']]);
  });
});
