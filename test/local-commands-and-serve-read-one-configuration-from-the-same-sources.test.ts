/**
 * Review 434 (configuration sources). M1: `credence token create`, `ca show`, `export` and `kek rotate` with --config
 * loaded the file with only CREDENCE_DATA and CREDENCE_SECURE_ENVIRONMENT (and CREDENCE_STORE,
 * CREDENCE_CHECKPOINT_WITNESS for export) of the environment, but checked the settings together on the whole merge: a
 * file with probePort 8080 beside CREDENCE_PORT=9000, which serve runs with, was refused "probePort: must differ from
 * port (8080)". M2: each source's `signing` was read before the merge, so a file's broken path overridden by
 * CREDENCE_SIGNING or --signing still refused the start. L3: serve re-read the config file by name to say where a
 * setting came from, which a pipe cannot be: the wildcard-host refusal named `--host (default)` instead of the file.
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadServiceConfig } from '../adapters/http/config.ts';
import { main } from '../bin/cli.ts';
import { capture, runCli } from './support/cli.ts';
import { temporaryFolders } from './support/temp-dirs.ts';
import { validationIssuesOf as refusal } from './support/validation-issues.ts';

const scratch = temporaryFolders('credence-config-sources-');

const privateFolder = (): string => {
  const dir = join(scratch(), 'private');
  mkdirSync(dir, { mode: 0o700 });
  return dir;
};

const writeJson = (file: string, value: unknown): string => {
  writeFileSync(file, JSON.stringify(value), { mode: 0o600 });
  return file;
};

describe('the local commands read the environment serve reads', () => {
  it('accept a --config file with probePort 8080 beside CREDENCE_PORT=9000, as serve does', async () => {
    const dir = privateFolder();
    const data = join(dir, 'data');
    mkdirSync(data, { mode: 0o700 });
    const config = writeJson(join(dir, 'credence.json'), { probePort: 8080, data });
    const env = { CREDENCE_PORT: '9000' };
    expect(loadServiceConfig({ file: config, env })).toMatchObject({ port: 9000, probePort: 8080 });

    const token = await runCli(['token', 'create', '--config', config, '--role', 'admin', '--subject', 'a', '--ttl', '1h'], env);
    expect(token.err).not.toContain('probePort');
    expect(token.code).toBe(0);

    const ca = await runCli(['ca', 'show', '--config', config], env);
    expect(ca.err).not.toContain('probePort');
    expect(ca.code).toBe(0);

    const exported = await runCli(['export', 'credential-meter-1', '--out', join(dir, 'bundle.json'), '--config', config], env);
    expect(exported.err).not.toContain('probePort');

    const kek = await runCli(['kek', 'rotate', '--config', config], env);
    expect(kek.err).not.toContain('probePort');
  }, 60_000);
});

describe('the local commands read only the variables they use (review 439)', () => {
  // Service-only variables a local command never uses: `token create` and `ca show` (an emergency admin token minted
  // while the service is repaired) are not refused for them, with --config or without.
  const serviceOnly: [string, Record<string, string>][] = [
    ['PORT=abc', { PORT: 'abc' }],
    ['CREDENCE_SIGNING naming a missing file', { CREDENCE_SIGNING: '/missing.json' }],
    ['CREDENCE_PROBE_PORT equal to CREDENCE_PORT', { CREDENCE_PORT: '9000', CREDENCE_PROBE_PORT: '9000' }],
    ['CREDENCE_PUBLIC_URL=not-a-url', { CREDENCE_PUBLIC_URL: 'not-a-url' }],
  ];
  it.each(serviceOnly)('token create --data and ca show --data accept %s', async (_, env) => {
    const data = join(privateFolder(), 'data');
    mkdirSync(data, { mode: 0o700 });
    const token = await runCli(['token', 'create', '--data', data, '--role', 'admin', '--subject', 'a', '--ttl', '1h'], env);
    expect(token.err).not.toContain('error:');
    expect(token.code).toBe(0);
    const ca = await runCli(['ca', 'show', '--data', data], env);
    expect(ca.err).not.toContain('error:');
    expect(ca.code).toBe(0);
  }, 60_000);

  it('a --config file is loaded without its settings checked together or its signing policy read', () => {
    const dir = privateFolder();
    const config = writeJson(join(dir, 'credence.json'), { probePort: 8080, signing: join(dir, 'gone.json'), durability: 'normal' });
    expect(loadServiceConfig({ file: config, env: { CREDENCE_STORE: 'esdb://localhost:2113' } }, {}, { for: 'local' })).toMatchObject({ probePort: 8080, port: 8080 });
    // serve checks them all
    expect(refusal(() => loadServiceConfig({ file: config, env: { CREDENCE_STORE: 'esdb://localhost:2113' } })).map((i) => i.rule).sort()).toEqual(['durability_not_applicable', 'probe_port_apart', 'readable']);
  });

  it('a bad value in the --config file is still refused by its own rule, naming the file and the key', () => {
    const dir = privateFolder();
    const config = writeJson(join(dir, 'credence.json'), { publicUrl: 'not-a-url' });
    const issues = refusal(() => loadServiceConfig({ file: config }, {}, { for: 'local' }));
    expect(issues.map((i) => i.path)).toEqual([`file ${config}: publicUrl`]);
  });
});

describe('the signing policy is checked once, on the merged setting', () => {
  it('a broken path in the file, overridden by CREDENCE_SIGNING or --signing, is not read', () => {
    const dir = privateFolder();
    const good = writeJson(join(dir, 'signing.json'), { audience: 'credence:config-sources-test', require: 'none', keys: [] });
    const config = writeJson(join(dir, 'credence.json'), { signing: join(dir, 'gone.json') });
    expect(loadServiceConfig({ file: config, env: { CREDENCE_SIGNING: good } }).signing).toBe(good);
    expect(loadServiceConfig({ file: config, flags: { signing: good } }).signing).toBe(good);
  });

  it('a broken path in the file alone is refused naming the file, the setting and a rule of its own', () => {
    const dir = privateFolder();
    const gone = join(dir, 'gone.json');
    const config = writeJson(join(dir, 'credence.json'), { signing: gone });
    expect(refusal(() => loadServiceConfig({ file: config }))).toEqual([{ path: `file ${config}: signing`, rule: 'readable', message: `cannot read ${gone}: ENOENT` }]);
  });
});

describe.skipIf(process.platform === 'win32')('serve with --config given as a pipe', () => {
  it('names the file a refused wildcard host came from, not the --host default', async () => {
    const data = join(scratch(), 'data');
    expect((await runCli(['demo', '--data', data])).code).toBe(0);
    const fifo = join(privateFolder(), 'credence.json');
    execFileSync('mkfifo', ['-m', '600', fifo]);
    const writer = spawn('sh', ['-c', `printf '%s' '{"host": "0.0.0.0"}' > '${fifo}'`], { stdio: 'ignore' });
    try {
      const run = capture();
      const code = await main(['serve', '--data', data, '--port', '0', '--log-level', 'silent', '--config', fifo], { ...run.io, env: {} });
      const err = run.err.join('\n');
      expect(err).toContain(`error: file ${fifo}: host: publicUrl must be set`);
      expect(err).not.toContain('--host (default)');
      expect(code).toBe(2);
    } finally {
      writer.kill();
    }
  }, 120_000);
});
