/**
 * Review 320 (3): a local `credence token create` refused for `tokens.maxActivePerSubject` said `error: subject: root
 * holds 1 active token…` (exit 2), the access control's field for the flag: every other usage error of the command
 * names its flag (`--ttl: …`, `--subscription …: …`). It names `--subject`.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { runCli } from './support/cli.ts';

const dir = mkdtempSync(join(tmpdir(), 'credence-local-cap-flag-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

it('a local token create refused for the subject cap names the --subject flag', async () => {
  const config = join(dir, 'credence.json');
  writeFileSync(config, JSON.stringify({ data: join(dir, 'data'), tokens: { maxActivePerSubject: 1 } }));
  const create = ['token', 'create', '--config', config, '--role', 'admin', '--subject', 'root', '--ttl', '1h'];
  const first = await runCli(create);
  expect(first.code, first.err).toBe(0);
  const second = await runCli(create);
  expect(second.code).toBe(2);
  expect(second.err).toContain('--subject: root holds 1 active token, the most one subject may (tokens.maxActivePerSubject)');
  expect(second.err).not.toMatch(/(^|\s)subject: root/);
});
