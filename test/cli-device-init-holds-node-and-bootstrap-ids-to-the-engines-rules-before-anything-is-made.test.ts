import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { deviceCli } from './support/device-cli.ts';

// Found in review 302: `device init` checked --node-id and --bootstrap-id with the looser Identifier schema:
// `--node-id a@b` was the server's 400 naming no option, and a 126-character node id passed, a key was made, then the
// registration was refused over the derived bootstrap id `<node id>-bootstrap` being over 128 characters. Both are
// held to the engine's NodeId and CredentialId, the derived id too, as bad usage naming the option, before anything.

const root = mkdtempSync(join(tmpdir(), 'credence-init-ids-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

// Nothing listens there: a refusal said before anything is sent is not "cannot reach".
const server = ['--server', 'http://127.0.0.1:2', '--token', 't'];

describe('device init ids', () => {
  it('a node id the engine refuses is bad usage naming --node-id', async () => {
    const dir = join(root, 'at');
    const run = await deviceCli(['init', '--dir', dir, '--node-id', 'a@b', '--kind', 'ed25519', ...server]);
    expect(run.code).toBe(2);
    expect(run.output).toMatch(/--node-id: Node-ID must be/);
    expect(existsSync(dir)).toBe(false);
  });

  it('a bootstrap id the engine refuses is bad usage naming --bootstrap-id', async () => {
    const run = await deviceCli(['init', '--dir', join(root, 'b'), '--node-id', 'meter-b', '--bootstrap-id', 'boot@1', '--kind', 'ed25519', ...server]);
    expect(run.code).toBe(2);
    expect(run.output).toMatch(/--bootstrap-id: credential id must be/);
  });

  it('a node id whose default bootstrap id is too long is refused naming both options, before any key is made', async () => {
    const dir = join(root, 'long');
    const nodeId = 'n'.repeat(126);
    const run = await deviceCli(['init', '--dir', dir, '--node-id', nodeId, '--kind', 'ed25519', ...server]);
    expect(run.code).toBe(2);
    expect(run.output).toContain(`--node-id: the default bootstrap id ${nodeId}-bootstrap`);
    expect(run.output).toContain('--bootstrap-id');
    expect(run.output).not.toMatch(/cannot reach/);
    expect(existsSync(dir)).toBe(false);
  });
});
