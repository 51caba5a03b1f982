/**
 * Review 123: `credence serve` refused a `CREDENCE_*` variable nothing reads (review 119), but the local commands gave
 * the check only the variables they read, so it never saw a misspelt one. `CREDENCE_DATA_DIR=/srv/meant credence
 * token create …` exited 0 having made ./data, with a new Secure Environment and access.db, and a token no running
 * service accepts. Every command that may make or change what a data folder holds (token, ca, export, key) now refuses
 * such a variable first (exit 2, rule unknown_variable, the nearest known name, never the value) and makes nothing;
 * those that only read an existing folder warn of it (review 125); known ones still work.
 */
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { openSqliteStoreInDir } from '../adapters/driven/store/index.ts';
import { main } from '../bin/cli.ts';
import { localConfig } from '../bin/commands/token-target.ts';
import { capture } from './support/cli.ts';
import { temporaryFolders } from './support/temp-dirs.ts';
import { appendEvents } from './transparency-fixtures.ts';

const CLI = fileURLToPath(new URL('../bin/credence.mjs', import.meta.url));
const scratch = temporaryFolders('credence-local-unknown-env-');

/** The environment without the shell's own CREDENCE_ settings, which would move the command elsewhere. */
const cleanEnv = (): NodeJS.ProcessEnv => Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.toUpperCase().startsWith('CREDENCE_')));

/** `node bin/credence.mjs <args>` in `cwd`: its exit code and what it printed on stderr. */
const credence = (args: string[], cwd: string, env: NodeJS.ProcessEnv) =>
  new Promise<{ code: number | null; err: string }>((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd, env: { ...cleanEnv(), ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, err });
    });
  });

/**
 * `credence <args>` run in this process with only `env`: for commands whose folders are all named by flags (the
 * spawned `credence` above is kept where the working folder, where ./data would be made, is what is checked).
 */
const inProcess = async (args: string[], env: Record<string, string>): Promise<{ code: number; err: string }> => {
  const c = capture();
  const code = await main(args, { ...c.io, env });
  return { code, err: c.err.join('\n') };
};

/** A data folder whose embedded store holds a few events: what export, replay and the others read. */
const folderWithEvents = async (): Promise<string> => {
  const dir = scratch();
  const store = openSqliteStoreInDir(dir);
  await appendEvents(store, 3);
  await store.close();
  return dir;
};

const contents = (dir: string): string[] => (readdirSync(dir, { recursive: true }) as string[]).sort();

const TOKEN_CREATE = ['token', 'create', '--role', 'admin', '--subject', 'ops', '--ttl', '1h'];

describe('a local command given an unknown CREDENCE_ variable', () => {
  it('credence token create is refused (exit 2) naming it and CREDENCE_DATA, never its value, and makes no ./data', async () => {
    const cwd = scratch();
    const meant = join(cwd, 'meant');
    const { code, err } = await credence(TOKEN_CREATE, cwd, { CREDENCE_DATA_DIR: meant });
    expect(err).toMatch(/^error: env CREDENCE_DATA_DIR: unknown setting.*did you mean CREDENCE_DATA\?$/m);
    expect(err).not.toContain(meant);
    expect(code).toBe(2);
    expect(readdirSync(cwd)).toEqual([]);
  }, 90_000);

  it('credence ca init is refused the same way, before its folder is made', async () => {
    const cwd = scratch();
    const { code, err } = await credence(['ca', 'init'], cwd, { CREDENCE_SECURE_ENVIROMENT: 'embedded' });
    expect(err).toMatch(/^error: env CREDENCE_SECURE_ENVIROMENT: unknown setting.*did you mean CREDENCE_SECURE_ENVIRONMENT\?$/m);
    expect(code).toBe(2);
    expect(readdirSync(cwd)).toEqual([]);
  }, 90_000);

  it('credence export --data is refused the same way: no log key, no bundle, the folder as it was', async () => {
    const data = await folderWithEvents();
    const before = contents(data);
    const out = join(scratch(), 'bundle.json');
    // In this process: the folder and the bundle are named by flags, so no working folder is at stake.
    const { code, err } = await inProcess(['export', 'credential-meter-1', '--data', data, '--out', out], { CREDENCE_KEK_FLIE: '/secrets/credence.kek' });
    expect(err).toMatch(/^error: env CREDENCE_KEK_FLIE: unknown setting.*did you mean CREDENCE_KEK_FILE\?$/m);
    expect(err).not.toContain('/secrets/credence.kek');
    expect(code).toBe(2);
    expect(contents(data)).toEqual(before);
    expect(existsSync(out)).toBe(false);
  }, 90_000);

  it.each([
    ['key list', ['key', 'list']],
    ['token list', ['token', 'list']],
    ['ca show', ['ca', 'show']],
  ])('credence %s on a data folder is refused the same way, the folder as it was', async (_what, args) => {
    const data = await folderWithEvents();
    const before = contents(data);
    const c = capture();
    const code = await main([...args, '--data', data], { ...c.io, env: { CREDENCE_DATA_DIR: data } });
    expect(c.err.join('\n')).toMatch(/^error: env CREDENCE_DATA_DIR: unknown setting.*did you mean CREDENCE_DATA\?$/m);
    expect(code).toBe(2);
    expect(contents(data)).toEqual(before);
  });

  /*
   * Review 125: these only read a folder that exists (a misspelt variable cannot make them misplace one) and take no
   * --config, so the PIN variable a service's --config file names could not be told known: refused, every read beside
   * an HSM service stopped. They warn, naming the variable and never its value, and do what they do without it.
   */
  it.each([
    ['replay', ['replay']],
    ['history', ['history', 'credential-meter-1']],
    ['state', ['state', 'credential-meter-1', '--at', '2030-01-01T00:00:00Z']],
    ['projections rebuild', ['projections', 'rebuild', 'compliance']],
    ['query', ['query', 'actions', '--actor', 'ops']],
    ['verify --data', ['verify']],
  ])('credence %s, which only reads the folder, warns of it and answers as without it', async (_what, args) => {
    const run = async (env: Record<string, string>) => {
      const c = capture();
      const code = await main([...args, '--data', await folderWithEvents()], { ...c.io, env });
      return { code, err: c.err.join('\n') };
    };
    const warned = await run({ CREDENCE_DATA_DIR: '/srv/meant', CREDENCE_HSM_PIN: '1234' });
    const plain = await run({});
    expect(warned.err).toMatch(/^warning: env CREDENCE_DATA_DIR: not a setting this command reads.*did you mean CREDENCE_DATA\?$/m);
    expect(warned.err).toMatch(/^warning: env CREDENCE_HSM_PIN: not a setting this command reads.*read by the service alone\)$/m);
    expect(warned.err).not.toContain('/srv/meant');
    expect(warned.err).not.toContain('1234');
    expect(warned.code).toBe(plain.code);
    expect(warned.err).not.toMatch(/^error: env/m);
  });

  it("is the one a --config file's pkcs11: URI names as its pin-source, and no other", async () => {
    const file = join(scratch(), 'credence.json');
    const hsm = 'pkcs11:token=credence?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=env:CREDENCE_HSM_PIN';
    writeFileSync(file, JSON.stringify({ secureEnvironment: hsm }), { mode: 0o600 });
    const io = { ...capture().io, env: { CREDENCE_HSM_PIN: '1234' } };
    await expect(localConfig({ config: file }, io)).resolves.toMatchObject({ secureEnvironment: hsm });
    await expect(localConfig({}, io)).rejects.toMatchObject({ problem: { issues: [{ path: 'env CREDENCE_HSM_PIN', rule: 'unknown_variable' }] } });
  });
});

describe('a local command given only known CREDENCE_ variables', () => {
  it('credence token create issues its token in the folder CREDENCE_DATA names, beside the CLI, test and bench variables', async () => {
    const cwd = scratch();
    const { code, err } = await credence(TOKEN_CREATE, cwd, { CREDENCE_DATA: join(cwd, 'meant'), CREDENCE_TIMEOUT: '5', CREDENCE_FUZZ_SEED: '1' });
    expect(err).not.toContain('error:');
    expect(code).toBe(0);
    expect(readdirSync(cwd)).toEqual(['meant']);
    expect(existsSync(join(cwd, 'meant', 'access.db'))).toBe(true);
  }, 90_000);

  it('credence ca init makes its CA in the folder CREDENCE_DATA names', async () => {
    const cwd = scratch();
    const { code, err } = await credence(['ca', 'init'], cwd, { CREDENCE_DATA: join(cwd, 'meant'), CREDENCE_CRASH_ROUNDS: '1' });
    expect(err).not.toContain('error:');
    expect(code).toBe(0);
    expect(readdirSync(cwd)).toEqual(['meant']);
  }, 90_000);

  it('credence export --data writes its bundle', async () => {
    const data = await folderWithEvents();
    const out = join(scratch(), 'bundle.json');
    const { code, err } = await inProcess(['export', 'credential-meter-1', '--data', data, '--out', out], { CREDENCE_TIMEOUT: '5', CREDENCE_SECURE_ENVIRONMENT: 'embedded' });
    expect(err).not.toContain('error:');
    expect(code).toBe(0);
    expect(existsSync(out)).toBe(true);
  }, 90_000);
});
