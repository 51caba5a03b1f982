/**
 * A node's profile states what it can do: `--capability metering --capability metering` (or a command's data listing a
 * capability twice) was stored with the capability twice, to be counted twice by whatever reads the profile. A new
 * command names each capability once (rule `repeated_capability`, naming the repeat's index), and nothing is written;
 * stored profiles keep their looser schema.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { openSqliteStore } from '../adapters/driven/store/index.ts';
import { createEngine } from '../adapters/engine/index.ts';
import { main } from '../bin/cli.ts';
import { command } from '../domain/commands/index.ts';
import { NodeRegistered } from '../domain/events/node.ts';
import { capture } from './support/cli.ts';
import { cmd, footprint, operator, profile, rejection, T0 } from './support/fleet.ts';

describe('a node profile', () => {
  it('naming a capability twice is refused by rule repeated_capability at the repeat, and nothing is written', async () => {
    const store = openSqliteStore({ memory: true });
    const engine = createEngine({ store, clock: new FakeClock(T0) });
    await engine.execute(cmd.createSubscription());
    const before = await footprint(store);
    const sent = command('registerNode', { nodeId: 'n2', profile: { ...profile, capabilities: ['metering', 'relay', 'metering'] } }, { actor: operator });
    const error = await rejection(engine.execute(sent));
    expect(error.problem).toMatchObject({ code: 'validation', issues: [expect.objectContaining({ path: 'data.profile.capabilities.2', rule: 'repeated_capability' })] });
    expect(error.message).toContain('"metering" again');
    expect(await footprint(store)).toEqual(before);
    const distinct = await engine.execute(command('registerNode', { nodeId: 'n2', profile: { ...profile, capabilities: ['metering', 'relay'] } }, { actor: operator }));
    expect(distinct.events[0]!.data).toMatchObject({ profile: { capabilities: ['metering', 'relay'] } });
  });

  it('stored with a capability twice (before the rule) still reads', () => {
    expect(NodeRegistered.safeParse({ nodeId: 'n2', profile: { ...profile, capabilities: ['metering', 'metering'] } }).success).toBe(true);
  });

  it('from the CLI: --capability given twice with one name is bad usage (exit 2) naming the option, nothing sent', async () => {
    const c = capture();
    // No server listens there: a command that reached it would exit 3.
    const argv = ['node', 'register', 'n2', '--class', 'c', '--manufacturer', 'm', '--model', 'x', '--capability', 'metering', '--capability', 'metering'];
    const code = await main(argv, { ...c.io, env: { CREDENCE_URL: 'http://127.0.0.1:9', CREDENCE_TOKEN: 'unused' } });
    expect([code, c.err.join('\n')]).toEqual([2, expect.stringMatching(/--capability.*"metering" again/)]);
  });

  it('from the device simulator: device init with --capability given twice is bad usage before the bootstrap key is made', async () => {
    const work = mkdtempSync(join(tmpdir(), 'credence-capability-'));
    try {
      const c = capture();
      const dir = join(work, 'device');
      const argv = ['device', 'init', '--node-id', 'n2', '--kind', 'ed25519', '--dir', dir, '--capability', 'metering', 'metering'];
      const code = await main(argv, { ...c.io, env: { CREDENCE_URL: 'http://127.0.0.1:9', CREDENCE_TOKEN: 'unused' } });
      expect([code, c.err.join('\n')]).toEqual([2, expect.stringMatching(/--capability.*"metering" again/)]);
      expect(existsSync(dir)).toBe(false);
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  });
});
