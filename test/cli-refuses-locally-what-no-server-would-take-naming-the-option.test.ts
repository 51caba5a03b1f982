/**
 * Review 218 item 5: values the CLI can judge itself went to the server and came back exit 1 with body paths
 * (`body.commandId`, `body.ttl`, `body.data.subscriptionId`) instead of the option typed. Each is now bad usage
 * (exit 2) naming the option, before anything is sent or made: the server given here listens nowhere, so a request
 * would be exit 3. Also: commander's refusal of a choice echoes a bounded value, and a whole number out of bounds is
 * said in the option's terms rather than zod's stock words.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from './support/cli.ts';

const NOWHERE = ['--server', 'http://127.0.0.1:10', '--token', 'not-sent'];

describe('values refused locally, naming the option', () => {
  it('an upper-case --command-id is exit 2 naming --command-id and the lower-case rule', async () => {
    const run = await runCli(['node', 'revoke', 'n1', '--reason', 'keyCompromise', '--command-id', 'AAAAAAAA-0000-4000-8000-000000000000', ...NOWHERE]);
    expect(run.code).toBe(2);
    expect(run.err).toMatch(/--command-id: .*lower case/);
    expect(run.err).toContain('aaaaaaaa-0000-4000-8000-000000000000');
  });

  it.each([
    ['pseudonym', 'rotate', 'n1'],
    ['pseudonym', 'resolve', `p-${'a'.repeat(26)}`, '--reason', 'audit request 7'],
  ])('an upper-case --command-id of %s %s is exit 2 naming --command-id too', async (...args) => {
    const run = await runCli([...args, '--command-id', 'AAAAAAAA-0000-4000-8000-000000000000', ...NOWHERE]);
    expect(run.code, run.err).toBe(2);
    expect(run.err).toMatch(/--command-id: .*lower case/);
  });

  it('a version 8 --command-id (the engine derives those for its reactions) is exit 2 naming --command-id and the rule', async () => {
    const run = await runCli(['node', 'revoke', 'n1', '--reason', 'keyCompromise', '--command-id', 'aaaaaaaa-0000-8000-8000-000000000000', ...NOWHERE]);
    expect(run.code, run.err).toBe(2);
    expect(run.err).toMatch(/--command-id: .*reserved_command_id/);
  });

  it('a lower-case --command-id is sent', async () => {
    const run = await runCli(['node', 'revoke', 'n1', '--reason', 'keyCompromise', '--command-id', 'aaaaaaaa-0000-4000-8000-000000000000', ...NOWHERE]);
    expect(run.code).toBe(3);
  });

  it('a --ttl past what any server accepts is exit 2 naming --ttl with --server too', async () => {
    const run = await runCli(['token', 'create', '--role', 'operator', '--subject', 'someone', '--ttl', '99999d', ...NOWHERE]);
    expect(run.code).toBe(2);
    expect(run.err).toMatch(/--ttl: /);
  });

  it('a --ttl within that maximum is left to the server to bound', async () => {
    const run = await runCli(['token', 'create', '--role', 'operator', '--subject', 'someone', '--ttl', '3650d', ...NOWHERE]);
    expect(run.code).toBe(3);
  });

  it('a fleet --prefix no node id can start with is exit 2 naming --prefix, and no --dir is made', async () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'credence-prefix-')), 'fleet');
    try {
      const run = await runCli(['device', 'fleet', '--count', '1', '--prefix', 'a/b', '--dir', dir, ...NOWHERE]);
      expect(run.code).toBe(2);
      expect(run.err).toMatch(/--prefix: /);
      expect(existsSync(dir)).toBe(false);
    } finally {
      rmSync(dirname(dir), { recursive: true, force: true });
    }
  });

  it('a fleet --prefix too long for the ids made from it is exit 2 naming --prefix', async () => {
    const run = await runCli(['device', 'fleet', '--count', '100', '--prefix', 'p'.repeat(120), ...NOWHERE]);
    expect(run.code).toBe(2);
    expect(run.err).toMatch(/--prefix: /);
  });

  it('a whole number out of bounds is said in the option terms', async () => {
    const run = await runCli(['device', 'fleet', '--count', '0', ...NOWHERE]);
    expect(run.code).toBe(2);
    expect(run.err).toContain('--count: must be a whole number from 1 to 100000');
    const list = await runCli(['token', 'list', '--limit', '5000', ...NOWHERE]);
    expect(list.code).toBe(2);
    expect(list.err).toContain('--limit: must be a whole number from 1 to 1000');
  });

  it("a refused choice's value is echoed bounded and printable", async () => {
    const run = await runCli(['credential', 'revoke', 'c1', '--reason', `\u001b[2J${'x'.repeat(5000)}`, ...NOWHERE]);
    expect(run.code).toBe(2);
    expect(run.err.length).toBeLessThan(600);
    expect(run.err).not.toContain('\u001b');
    expect(run.err).toMatch(/… \(5004 characters\)/);
    expect(run.err).toContain('Allowed choices are');
  });
});
