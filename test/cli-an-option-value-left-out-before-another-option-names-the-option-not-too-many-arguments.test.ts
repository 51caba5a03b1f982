/**
 * Review 295 item 2: a value left out before an option that takes one (`--model --token-file FILE`) made commander take
 * `--token-file` as the model and FILE as one more argument, and its "too many arguments for 'register'" came first:
 * the dash check (parseOptions) ran only inside the action. `--model --json` was said right ("--model: --json looks
 * like an option"). Both now name the option; a real extra argument is still commander's "too many arguments".
 */
import { describe, expect, it } from 'vitest';
import { runCli } from './support/cli.ts';

const SERVER = ['--server', 'http://127.0.0.1:9', '--token', 'eyJ.a.b'];

describe('a value left out before an option that takes a value', () => {
  it('node register … --model --token-file FILE: names --model, not too many arguments', async () => {
    const { code, err } = await runCli(['node', 'register', 'meter-22', '--class', 'c', '--manufacturer', 'm', '--model', '--token-file', '/x/op.tok', '--server', 'http://127.0.0.1:9']);
    expect(err).toContain('error: --model: --token-file looks like an option (was the value left out?); write --model=--token-file for a value that really starts with -');
    expect(err).not.toContain('too many arguments');
    expect(code).toBe(2);
  });

  it('node register … --model --json: named as before', async () => {
    const { code, err } = await runCli(['node', 'register', 'meter-22', '--class', 'c', '--manufacturer', 'm', '--model', '--json', ...SERVER]);
    expect(err).toContain('error: --model: --json looks like an option (was the value left out?)');
    expect(code).toBe(2);
  });

  it('a real extra argument is still too many arguments', async () => {
    const { code, err } = await runCli(['node', 'register', 'meter-22', 'extra', '--class', 'c', '--manufacturer', 'm', '--model', 'x', ...SERVER]);
    expect(err).toContain("error: too many arguments for 'register'. Expected 1 argument but got 2.");
    expect(code).toBe(2);
  });
});
