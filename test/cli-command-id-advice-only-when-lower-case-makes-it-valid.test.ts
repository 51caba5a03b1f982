import { describe, expect, it } from 'vitest';
import { closedPort } from './support/closed-port.ts';
import { runCli } from './support/cli.ts';

/*
 * Review 271: `--command-id ABC` gave two errors, "must be a UUID" and then the lower-case rule's, advising "give abc",
 * which is no UUID either. The lower-case advice is given only when the id in lower case would be taken.
 */
const revoke = async (commandId: string) =>
  runCli(['node', 'revoke', 'meter-1', '--reason', 'keyCompromise', '--server', `http://127.0.0.1:${await closedPort()}`, '--token', 'a.b.c', '--command-id', commandId]);

describe('--command-id', () => {
  it('that is no UUID in any case is one error, with no lower-case advice', async () => {
    for (const id of ['ABC', 'NOT-A-UUID', '6F1D2C3B-4A59-4E8F-9B7A-0C1D2E3F4A5', 'abc']) {
      const run = await revoke(id);
      expect(run.code, id).toBe(2);
      expect(run.err.split('\n').filter((line) => line.startsWith('error: ')), id).toEqual(['error: --command-id: must be a UUID']);
      expect(run.err, id).not.toMatch(/lower case|give /);
    }
  });

  it('in upper case that is a valid new id in lower case advises that id', async () => {
    const upper = '6F1D2C3B-4A59-4E8F-9B7A-0C1D2E3F4A5B';
    const run = await revoke(upper);
    expect(run.code).toBe(2);
    expect(run.err).toContain(`for a new command, give ${upper.toLowerCase()}`);
  });

  it('in upper case of version 8, which in lower case is the engine\'s own, says that rule, never advising its lower case', async () => {
    const upper = '6F1D2C3B-4A59-8E8F-9B7A-0C1D2E3F4A5B';
    const run = await revoke(upper);
    expect(run.code).toBe(2);
    expect(run.err).toMatch(/--command-id: .*reserved_command_id/);
    expect(run.err).not.toContain(upper.toLowerCase());
  });
});
