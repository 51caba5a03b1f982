/**
 * Review 186 item 6: `credence help nosuch` exited 2 with the whole help on stderr and never said which command it did
 * not know. It now says so first, in commander's words for `credence nosuch`; a word after a command that takes no
 * subcommands (an argument: `help history node-x`) still shows that command's help alone (review 177).
 */
import { describe, expect, it } from 'vitest';
import { runCli } from './support/cli.ts';

describe('credence help <a word naming no command>', () => {
  it('says "unknown command" and the word first (stderr, exit 2), then the help reached', async () => {
    const top = await runCli(['help', 'nosuch']);
    expect(top.code).toBe(2);
    expect(top.out).toBe('');
    expect(top.err.split('\n')[0]).toBe("error: unknown command 'nosuch'");
    expect(top.err).toMatch(/^Usage: credence \[options\] \[command\]/m);

    const nested = await runCli(['help', 'token', 'nosuch']);
    expect(nested.code).toBe(2);
    expect(nested.err.split('\n')[0]).toBe("error: unknown command 'nosuch'");
    expect(nested.err).toMatch(/^Usage: credence token /m);
  });

  it('says nothing of the kind for an argument after a command without subcommands', async () => {
    const r = await runCli(['help', 'history', 'node-x']);
    expect(r.code).toBe(2);
    expect(r.err).not.toMatch(/unknown command/);
    expect(r.err).toMatch(/^Usage: credence history /m);
  });
});
