/**
 * Review 119: a misspelt or unknown `CREDENCE_*` variable was ignored without a word, where the config file refuses
 * an unknown key. `CREDENCE_DATA_DIR=/tmp/x credence serve` started on a new ./data (a new Secure Environment, a new
 * log key) instead of the folder meant. Now a start refuses it as a bad setting (exit 2) before anything is made,
 * naming the variable and the nearest known one, never its value; every variable some part of Credence reads
 * (the CLI's, the KEK file's, the PIN's, the tests' and benches') still passes.
 */
import { spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadServiceConfig } from '../adapters/http/config.ts';
import { OTHER_CREDENCE_ENV } from '../adapters/http/credence-environment.ts';
import type { FieldIssue } from '../domain/errors.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

const CLI = fileURLToPath(new URL('../bin/credence.mjs', import.meta.url));
const scratch = temporaryFolders('credence-unknown-env-');

/** The environment without what would move the server elsewhere (a PORT or CREDENCE_ setting of the shell). */
const cleanEnv = (): NodeJS.ProcessEnv =>
  Object.fromEntries(Object.entries(process.env).filter(([name]) => name !== 'PORT' && !name.toUpperCase().startsWith('CREDENCE_')));

/**
 * `node bin/credence.mjs <args>` in `cwd`: its exit code and what it printed. With `until`, stopped by SIGTERM once
 * stderr holds it (a service that started).
 */
const credence = (args: string[], cwd: string, env: NodeJS.ProcessEnv, until?: string) =>
  new Promise<{ code: number | null; err: string }>((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd, env: { ...cleanEnv(), ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (chunk: Buffer) => {
      err += chunk.toString();
      if (until !== undefined && err.includes(until)) child.kill('SIGTERM');
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, err });
    });
  });

const issuesOf = (env: Record<string, string>): readonly FieldIssue[] => {
  try {
    loadServiceConfig({ env });
  } catch (error) {
    return (error as { problem: { issues: FieldIssue[] } }).problem.issues;
  }
  return [];
};

describe('an unknown CREDENCE_ environment variable', () => {
  it('refuses credence serve (exit 2), naming each variable and the nearest known name, never a value, and makes no data folder', async () => {
    const cwd = scratch();
    const meant = join(cwd, 'meant');
    const { code, err } = await credence(['serve', '--port', '0'], cwd, {
      CREDENCE_DATA_DIR: meant,
      CREDENCE_CONFIG: '/nonexistent.json',
      CREDENCE_BODY_LIMIT_BYTES: '-5',
    });
    expect(err).toMatch(/^error: env CREDENCE_DATA_DIR: unknown setting.*did you mean CREDENCE_DATA\?$/m);
    expect(err).toMatch(/^error: env CREDENCE_CONFIG: unknown setting.*--config$/m);
    expect(err).toMatch(/^error: env CREDENCE_BODY_LIMIT_BYTES: unknown setting/m);
    expect(err).not.toContain(meant);
    expect(err).not.toContain('/nonexistent.json');
    expect(err).not.toContain('Credence listening');
    expect(code).toBe(2);
    // Neither the ./data a start falls back to, nor the folder meant, nor anything else.
    expect(readdirSync(cwd)).toEqual([]);
  }, 90_000);

  it('refuses credence start (npm start) the same way, before its data folder is made', async () => {
    const cwd = scratch();
    const { code, err } = await credence(['start', '--port', '0'], cwd, { CREDENCE_HOSTNAME: '127.0.0.1' });
    expect(err).toMatch(/^error: env CREDENCE_HOSTNAME: unknown setting.*did you mean CREDENCE_HOST\?$/m);
    expect(code).toBe(2);
    expect(existsSync(join(cwd, 'data'))).toBe(false);
  }, 90_000);

  it('is named in any case, and a secret in its value is never said', () => {
    const issues = issuesOf({ credence_pkcs11_pin_: 'hunter2-secret', CREDENCE_STORE_PASSWORD: 'hunter2-secret' });
    expect(issues.map(({ path, rule }) => ({ path, rule }))).toEqual([
      { path: 'env CREDENCE_STORE_PASSWORD', rule: 'unknown_variable' },
      { path: 'env credence_pkcs11_pin_', rule: 'unknown_variable' },
    ]);
    expect(issues[1]!.message).toContain('did you mean CREDENCE_PKCS11_PIN?');
    expect(JSON.stringify(issues)).not.toContain('hunter2');
  });

  it('is said with the other bad settings at once', () => {
    const issues = issuesOf({ CREDENCE_PROT: '8080', CREDENCE_PORT: '9000', CREDENCE_PROBE_PORT: '9000' });
    expect(issues.map((i) => i.path)).toEqual(['env CREDENCE_PROT', 'env CREDENCE_PROBE_PORT']);
    expect(issues[0]!.message).toContain('did you mean CREDENCE_PORT?');
  });

  it('is let be when empty, as an empty known variable is unset', () => {
    expect(issuesOf({ CREDENCE_DATA_DIR: '' })).toEqual([]);
  });
});

describe('a known CREDENCE_ environment variable', () => {
  it('still sets its setting, beside every variable other parts of Credence, its tests and benches read', () => {
    const others = Object.fromEntries(OTHER_CREDENCE_ENV.map((name) => [name, name === 'CREDENCE_KEK_FILE' ? '/secrets/credence.kek' : '1']));
    const config = loadServiceConfig({ env: { ...others, CREDENCE_DATA: '/srv/credence', CREDENCE_HELLO_FLOOR_MS: '70', PORT: '9000' } });
    expect(config).toMatchObject({ data: '/srv/credence', port: 9000, limits: { helloFloorMs: 70 } });
  });

  it("is the one a pkcs11: URI's pin-source=env: names, however it is spelt", () => {
    const secureEnvironment = 'pkcs11:token=credence?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=env:CREDENCE_HSM_PIN';
    expect(issuesOf({ CREDENCE_SECURE_ENVIRONMENT: secureEnvironment, CREDENCE_HSM_PIN: '1234' })).toEqual([]);
    expect(issuesOf({ CREDENCE_HSM_PIN: '1234' }).map((i) => i.path)).toEqual(['env CREDENCE_HSM_PIN']);
  });

  it('starts credence serve on the folder it names, with the CLI, test and bench variables set too', async () => {
    const cwd = scratch();
    const data = join(cwd, 'meant');
    const { err } = await credence(
      ['serve', '--port', '0'],
      cwd,
      { CREDENCE_DATA: data, CREDENCE_URL: 'http://127.0.0.1:1', CREDENCE_TIMEOUT: '5', CREDENCE_FUZZ_SEED: '1', CREDENCE_CRASH_ROUNDS: '1' },
      'Credence listening',
    );
    expect(err).toContain(`Credence listening on http://127.0.0.1:`);
    expect(err).toContain(`(data ${data}`);
    expect(err).not.toContain('error:');
    expect(readdirSync(cwd)).toEqual(['meant']);
  }, 90_000);
});
