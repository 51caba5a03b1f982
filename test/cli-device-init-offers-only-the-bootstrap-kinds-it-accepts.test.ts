import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { deviceCli } from './support/device-cli.ts';

// Found in review: `device init` without --kind said "(one of: ed25519, p256, psk256)", and --kind psk256 was then
// refused for init (a PSK bootstrap cannot be placed over HTTP). It offers only the kinds it accepts; psk256 is still
// refused with why, and `device provision` still offers all three.

const root = mkdtempSync(join(tmpdir(), 'credence-init-kinds-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

// No server is reached: every refusal here is bad usage, said before anything is sent.
const server = ['--server', 'http://127.0.0.1:9', '--token', 't'];

describe('device init without --kind', () => {
  it('names only ed25519 and p256, the kinds init accepts', async () => {
    const missing = await deviceCli(['init', '--dir', join(root, 'dev-x'), '--node-id', 'meter-10', ...server]);
    expect(missing.code).toBe(2);
    expect(missing.output).toContain("required option '--kind <kind>' not specified (one of: ed25519, p256)");
  });

  it('with --kind psk256, is refused with why, before any key is made', async () => {
    const psk = await deviceCli(['init', '--dir', join(root, 'dev-psk'), '--node-id', 'meter-11', '--kind', 'psk256', ...server]);
    expect(psk.code).toBe(2);
    expect(psk.output).toMatch(/psk256.*factory PSK bootstrap/);
    expect(psk.output).not.toMatch(/cannot reach/);
  });

  it('help lists only the kinds init accepts, where provision lists all three', async () => {
    const init = await deviceCli(['init', '--help']);
    expect(init.output.replace(/\s+/g, ' ')).toMatch(/choices: "ed25519", "p256"\)/);
    const provision = await deviceCli(['provision', '--credential-id', 'c', '--dir', join(root, 'p'), '--server', 'http://127.0.0.1:9']);
    expect(provision.output).toContain('(one of: ed25519, p256, psk256)');
  });
});
