/**
 * Fix 1075 (review 431, L2): an unknown option written `--opt=value` was refused quoting the whole word, so a mistyped
 * `--tokn=SECRET` printed the secret (`error: unknown option '--tokn=SECRET'`). It is named without what follows its
 * first `=`, commander's "Did you mean" suggestion kept, exit 2 as ever.
 */
import { describe, expect, it } from 'vitest';
import { runCli } from './support/cli.ts';

const SECRET = 's3cretTOKENabcXYZ';

describe('an unknown option given as --name=value', () => {
  it.each([
    ['events', ['events', '--server', 'http://127.0.0.1:9', `--tokn=${SECRET}`]],
    ['token list', ['token', 'list', '--server', 'http://127.0.0.1:9', `--tokn=${SECRET}`]],
    ['node register (a command with a mandatory option left out)', ['node', 'register', 'meter-1', '--server', 'http://127.0.0.1:9', `--tokn=${SECRET}`]],
  ])('%s: names the option alone, keeps the suggestion, exit 2', async (_name, argv) => {
    const r = await runCli(argv);
    expect(r.code, r.err).toBe(2);
    expect(`${r.out}\n${r.err}`).not.toContain(SECRET);
    expect(r.err).toContain("error: unknown option '--tokn' (its value not repeated)");
    expect(r.err).toContain('(Did you mean --token?)');
  });

  it('given to a command that has subcommands, it is named without its value too', async () => {
    const r = await runCli(['token', `--tokn=${SECRET}`]);
    expect(r.code, r.err).toBe(2);
    expect(`${r.out}\n${r.err}`).not.toContain(SECRET);
  });

  it('an unknown option without a value is said as commander says it', async () => {
    const r = await runCli(['events', '--server', 'http://127.0.0.1:9', '--tokn', SECRET]);
    expect(r.code, r.err).toBe(2);
    expect(r.err).toContain("error: unknown option '--tokn'\n(Did you mean --token?)");
  });
});
