import { describe, expect, it } from 'vitest';
import { runCli } from './support/cli.ts';

/*
 * Review 331, item 5: the messages of `credence command` and the lifecycle commands about their own options.
 */

// Nothing listens here: a command that were sent would be exit 3.
const SERVER = ['--server', 'http://127.0.0.1:59995', '--token', 'x'];

describe('credence command: what its refusals and help say', () => {
  it('--help of a command without --not-before says nothing of it at --command-id; one with it still does', async () => {
    const commandIdHelp = async (argv: string[]): Promise<string> => {
      const help = await runCli([...argv, '--help']);
      return help.out.slice(help.out.indexOf('--command-id'), help.out.indexOf('--correlation-id')).replace(/\s+/g, ' ');
    };
    expect(await commandIdHelp(['command'])).not.toContain('--not-before');
    expect(await commandIdHelp(['node', 'revoke'])).not.toContain('--not-before');
    expect(await commandIdHelp(['credential', 'issue'])).toContain('so --not-before, defaulted to now, is then required');
  });

  it('--sign-lifetime without --sign-key is refused, as --audience and --actor are: only with --sign-key', async () => {
    const run = await runCli(['command', 'revokeNode', '--data', '{"nodeId":"n1","reason":"r"}', '--sign-lifetime', '60', ...SERVER]);
    expect(run.code, run.err).toBe(2);
    expect(run.err).toContain('--sign-lifetime: only with --sign-key');
  });

  it('--data @ says the file name is missing, not `cannot read :`', async () => {
    const run = await runCli(['command', 'revokeNode', '--data', '@', ...SERVER]);
    expect(run.code, run.err).toBe(2);
    expect(run.err).not.toContain('cannot read :');
    expect(run.err).toContain('--data: @ without a file name');
  });

  it('--data --json says the value looks like an option, as every other option does', async () => {
    const run = await runCli(['command', 'revokeNode', '--data', '--json', ...SERVER]);
    expect(run.code, run.err).toBe(2);
    expect(run.err).toContain('--data: --json looks like an option (was the value left out?)');
  });

  it('--certificate and --receipt likewise', async () => {
    const issue = await runCli(['credential', 'issue', 'c1', '--kind', 'ed25519', '--purpose', 'service', '--owner', 'node:n1', '--fingerprint', 'f', '--not-after', '2030-01-01T00:00:00Z', '--certificate', '--json', ...SERVER]);
    expect(issue.code, issue.err).toBe(2);
    expect(issue.err).toContain('--certificate: --json looks like an option (was the value left out?)');
    const provision = await runCli(['credential', 'provision', 'c1', '--method', 'pre-provisioning', '--receipt', '--json', ...SERVER]);
    expect(provision.code, provision.err).toBe(2);
    expect(provision.err).toContain('--receipt: --json looks like an option (was the value left out?)');
  });

  it('--data=--json, one word, is a value: judged as JSON', async () => {
    const run = await runCli(['command', 'revokeNode', '--data=--json', ...SERVER]);
    expect(run.code, run.err).toBe(2);
    expect(run.err).toContain('--data: not JSON');
  });
});
