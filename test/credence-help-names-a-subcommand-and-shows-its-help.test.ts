/**
 * Review 173 (F): `credence help token create` printed the help of `token`, not of `create`, though README promises
 * `credence help <command>`: commander's help command reads its first word only. It now shows what `token create
 * --help` shows; a word that names no subcommand is refused as an unknown command (exit 2).
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

  it('refuses a subcommand there is none of (exit 2)', async () => {
    const r = await runCli(['help', 'token', 'no-such']);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/unknown command 'no-such'/);
  });
});
