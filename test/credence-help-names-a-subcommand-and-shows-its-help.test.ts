/**
 * Review 173 (F): `credence help token create` printed the help of `token`, not of `create`, though README promises
 * `credence help <command>`: commander's help command reads its first word only. It now shows what `token create
 * --help` shows. A word that names no subcommand shows the help of the command reached as an error (exit 2), as
 * commander's `help no-such` shows the program's; it is never run as a command (review 177:
 * test/credence-help-runs-nothing-it-names.test.ts).
 */
import { describe, expect, it } from 'vitest';
import { runCli } from './support/cli.ts';

describe('credence help <command> <subcommand>', () => {
  it("shows the subcommand's help, as --help on it does", async () => {
    const viaHelp = await runCli(['help', 'token', 'create']);
    const viaFlag = await runCli(['token', 'create', '--help']);
    expect(viaHelp.code).toBe(0);
    expect(viaHelp.out).toMatch(/^Usage: credence token create /m);
    expect(viaHelp.out).toBe(viaFlag.out);
  });

  it("still shows a command's own help for one word", async () => {
    const r = await runCli(['help', 'token']);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^Usage: credence token /m);
  });

  it("refuses a subcommand there is none of with the help of the command reached (exit 2), as commander's help does for a command", async () => {
    const r = await runCli(['help', 'token', 'no-such']);
    const top = await runCli(['help', 'no-such']);
    expect([r.code, top.code]).toEqual([2, 2]);
    expect(r.out).toBe('');
    expect(r.err).toMatch(/^Usage: credence token /m);
    expect(top.err).toMatch(/^Usage: credence \[options\] \[command\]/m);
  });
});
