/**
 * Review 173 (D): `device init --valid-for 10` was taken as ten seconds without a word, where the help says only
 * "e.g. 5y or 1825d": a bootstrap credential that expired before the device was provisioned. A duration without its
 * unit is now refused (exit 2), naming the option and the units it takes; the same for --lifetime.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Duration } from '../bin/commands/device/duration.ts';
import { runCli } from './support/cli.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

const scratch = temporaryFolders('credence-duration-');

describe('a device command duration', () => {
  it('refuses --valid-for 10, naming the option and the units (exit 2)', async () => {
    const r = await runCli(['device', 'init', '--dir', join(scratch(), 'dev'), '--node-id', 'meter-1', '--kind', 'ed25519', '--server', 'http://127.0.0.1:1', '--token', 'x', '--valid-for', '10']);
    expect(r.code, r.err).toBe(2);
    expect(r.err).toMatch(/^error: --valid-for: .*s, m, h, d or y/m);
  });

  it('refuses --lifetime 90 likewise', async () => {
    const r = await runCli(['device', 'associate', '--dir', join(scratch(), 'dev'), '--association-id', 'a1', '--credential-id', 'c1', '--server', 'http://127.0.0.1:1', '--lifetime', '90']);
    expect(r.code, r.err).toBe(2);
    expect(r.err).toMatch(/^error: --lifetime: .*s, m, h, d or y/m);
  });

  it.each([
    ['45s', 45],
    ['30m', 1800],
    ['12h', 43_200],
    ['90d', 90 * 86_400],
    ['5y', 5 * 365 * 86_400],
  ])('takes %s as %i seconds', (text, seconds) => {
    expect(Duration.parse(text)).toBe(seconds);
  });

  it.each(['10', '', 'd', '1.5d', '11y'])('refuses %j', (text) => {
    expect(Duration.safeParse(text).success).toBe(false);
  });
});
