/**
 * Found in review: `credence association configure` without --registree-cse or --registree-ae was refused as
 * `--registree-cse/--registree-ae: Invalid input: expected string, received undefined`, and --registree-ae without
 * --app as `--app: Invalid input: …`: zod's words for a field left out, not which flags to give.
 */
import { describe, expect, it } from 'vitest';
import { runCli } from './support/cli.ts';

const CONFIGURE = ['association', 'configure', 'a2', '--node', 'meter-1', '--credential', 'c1', '--registrar', '/in-cse'];

describe('association configure without a whole Registree', () => {
  it('without --registree-cse or --registree-ae is bad usage saying to give one, the AE with --app', async () => {
    const { code, err } = await runCli(CONFIGURE);
    expect(err).toBe('error: --registree-cse, --registree-ae: give --registree-cse, or --registree-ae with --app');
    expect(code).toBe(2);
  });

  it('with --registree-ae but no --app is bad usage asking for --app', async () => {
    const { code, err } = await runCli([...CONFIGURE, '--registree-ae', 'Cae1']);
    expect(err).toBe("error: --app: required with --registree-ae: the AE's App-ID");
    expect(code).toBe(2);
  });
});
