import { describe, expect, it } from 'vitest';
import { runCli } from './support/cli.ts';

/*
 * Review 331: `credence command --help` listed the six commands only the engine sends (role `system` in
 * domain/commands/catalog.ts), which the server refuses an operator (403), and `command releaseApplicationInstance`
 * was sent and answered with field errors first. They are left out of the list and refused before anything is sent.
 */

// Nothing listens here: a command that were sent would be exit 3, never the usage refusal asserted.
const SERVER = ['--server', 'http://127.0.0.1:59997', '--token', 'x'];
const SYSTEM = [
  'recordNodeAssociation',
  'releaseNodeAssociation',
  'recordCredentialAssociation',
  'releaseCredentialAssociation',
  'recordApplicationInstance',
  'releaseApplicationInstance',
];

describe('credence command and the commands only the engine sends', () => {
  it('--help lists none of them among the command types an operator sends', async () => {
    const help = await runCli(['command', '--help']);
    expect(help.code).toBe(0);
    for (const type of SYSTEM) expect(help.out).not.toContain(type);
    expect(help.out).toContain('revokeCredential');
  });

  it.each(SYSTEM)('%s is refused before sending, exit 2, naming it as the engine\'s own', async (type) => {
    const run = await runCli(['command', type, '--data', '{}', ...SERVER]);
    expect(run.code, run.err).toBe(2);
    expect(run.err).toContain(type);
    expect(run.err).toContain("the engine's own");
    expect(run.err).not.toContain('note: command');
  });
});
