import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { accessSync, constants, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type { Pkcs11 } from '../../adapters/driven/secure-environment/pkcs11/module.ts';
import { acquireSharedModule, releaseModule } from '../../adapters/driven/secure-environment/pkcs11/shared-module.ts';

/**
 * TEST ONLY: SoftHSM2 tokens in a temporary folder. SoftHSM2 reads SOFTHSM2_CONF when the module is
 * C_Initialize'd, once per process, so a test file calls `softHsm()` at its top (before any PKCS#11 Secure
 * Environment opens) and every token of that file lives in the one folder it makes. Each token gets random PINs,
 * handed to softhsm2-util as arguments only (a throwaway test token) and to Credence only through a 0600 PIN file
 * or an environment variable; neither is ever printed.
 */
export const SOFTHSM_MODULE = process.env.CREDENCE_TEST_PKCS11_MODULE ?? '/usr/lib/softhsm/libsofthsm2.so';

const hasTool = (tool: string): boolean => {
  try {
    execFileSync(tool, ['--version'], { stdio: 'ignore' });
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code !== 'ENOENT';
  }
};

/** Why PKCS#11 tests are skipped here, or undefined when SoftHSM2 is installed (CI always installs it). */
export const softHsmMissing: string | undefined = !existsSync(SOFTHSM_MODULE)
  ? `PKCS#11 tests skipped: no PKCS#11 module at ${SOFTHSM_MODULE} (apt-get install softhsm2)`
  : !hasTool('softhsm2-util')
    ? 'PKCS#11 tests skipped: softhsm2-util is not installed (apt-get install softhsm2)'
    : !hasTool('pkcs11-tool')
      ? 'PKCS#11 tests skipped: pkcs11-tool is not installed (apt-get install opensc)'
      : undefined;
if (softHsmMissing) console.warn(softHsmMissing);

const require = createRequire(import.meta.url);

/**
 * The start and end every intruder script shares (run in a process of its own, as an intruder would be): pkcs11js
 * loaded, options read as JSON from stdin (`module`, `token`, `pin` and the script's own), the module initialised, the
 * token's slot found by label, an RW session opened and logged in as the user; `body` runs with `p` (pkcs11js), `o`
 * (the options), `m` (the module) and `session`, and the module is finalised whatever it does.
 */
const intruderScript = (body: string): string => `
const p = require(process.env.PKCS11JS);
const o = JSON.parse(require('node:fs').readFileSync(0, 'utf8'));
const m = new p.PKCS11();
m.load(o.module);
m.C_Initialize();
try {
  const slot = m.C_GetSlotList(true).find((s) => m.C_GetTokenInfo(s).label.trim() === o.token);
  const session = m.C_OpenSession(slot, p.CKF_SERIAL_SESSION | p.CKF_RW_SESSION);
  m.C_Login(session, p.CKU_USER, o.pin);
${body}
} finally {
  m.C_Finalize();
}
`;

/**
 * Run by plantSecretKey and plantUnlabelledSecretKeys: `count` C_CreateObject of a token secret key, in one login, with
 * the given boolean attributes and optional label.
 */
const PLANT_BODY = `
  for (let i = 0; i < o.count; i++) {
    m.C_CreateObject(session, [
      { type: p.CKA_CLASS, value: p.CKO_SECRET_KEY },
      { type: p.CKA_KEY_TYPE, value: p.CKK_GENERIC_SECRET },
      { type: p.CKA_TOKEN, value: true },
      { type: p.CKA_PRIVATE, value: true },
      ...o.flags.map(([name, value]) => ({ type: p[name], value })),
      { type: p.CKA_ID, value: Buffer.from(o.id, 'utf8') },
      ...(o.label === undefined ? [] : [{ type: p.CKA_LABEL, value: o.label }]),
      { type: p.CKA_VALUE, value: Buffer.from(o.value, 'hex') },
    ]);
  }
`;

export interface TestToken {
  readonly label: string;
  /** A 0600 file holding the user PIN. */
  readonly pinFile: string;
  /** For tests that pass the PIN through an environment variable; never printed. */
  readonly pin: string;
  /** `pkcs11:token=<label>?module-path=...&pin-source=file:...` plus `query` (e.g. `x-derivation=host`). */
  uri(query?: string): string;
}

export interface SoftHsm {
  readonly dir: string;
  /** A fresh initialised token; made before the first open of the module in this process, or after every close. */
  token(label: string): TestToken;
  /** `pkcs11-tool --list-objects` on a token, from a separate process (proves what the token itself holds). */
  listObjects(token: TestToken): string;
  /**
   * What someone holding the PIN can do behind Credence's back (pkcs11-tool, another process): a secret key object
   * with a known value under a chosen CKA_ID and CKA_LABEL.
   */
  plantSecretKey(token: TestToken, object: { readonly id: string; readonly label: string; readonly value: Uint8Array }): void;
  /** The same intruder making `count` unlabelled sign-only secret keys with one value under one CKA_ID, in one login. */
  plantUnlabelledSecretKeys(token: TestToken, objects: { readonly id: string; readonly value: Uint8Array; readonly count: number }): void;
  /** Someone holding the PIN deletes the objects of these types under `id`'s CKA_ID, one `pkcs11-tool --delete-object` each. */
  deleteObjects(token: TestToken, id: string, types: readonly ('privkey' | 'pubkey' | 'secrkey')[]): void;
  /**
   * `softhsm2-util --delete-token` (the token gone from under a running process, as an HSM that is unplugged or
   * whose partition is removed); `restore` puts back a copy of its folder taken just before (the HSM back, its
   * keys restored from backup).
   */
  deleteToken(token: TestToken): { restore(): void };
  /**
   * Someone holding the PIN runs `body` (JavaScript, see intruderScript) in a process of its own, logged in to
   * `token` with `input` as its options; answers what it printed.
   */
  runAsIntruder(token: TestToken, body: string, input: Readonly<Record<string, unknown>>): string;
  cleanup(): void;
}

/** What PLANT_BODY makes: `count` secret keys with these boolean attributes (CKA_ names, in order). */
interface PlantSpec {
  readonly id: string;
  readonly label?: string;
  readonly value: Uint8Array;
  readonly count: number;
  readonly flags: readonly (readonly [string, boolean])[];
}

/**
 * Where the tokens live: SoftHSM's file store writes each object to its own file, so a test that plants a thousand
 * objects spent most of its time on the disk; a memory file system (Linux's /dev/shm) is what a test token needs.
 */
const tokenRoot = (): string => {
  try {
    accessSync('/dev/shm', constants.W_OK);
    return '/dev/shm';
  } catch {
    return tmpdir();
  }
};

export const softHsm = (): SoftHsm => {
  const dir = mkdtempSync(join(tokenRoot(), 'credence-softhsm-'));
  const tokens = join(dir, 'tokens');
  mkdirSync(tokens, { mode: 0o700 });
  const conf = join(dir, 'softhsm2.conf');
  writeFileSync(conf, `directories.tokendir = ${tokens}\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n`, { mode: 0o600 });
  process.env.SOFTHSM2_CONF = conf;
  const env = { ...process.env, SOFTHSM2_CONF: conf };
  const runAsIntruder = (token: TestToken, body: string, input: Readonly<Record<string, unknown>>): string => {
    const options = JSON.stringify({ module: SOFTHSM_MODULE, ...input, token: token.label, pin: token.pin });
    return execFileSync(process.execPath, ['-e', intruderScript(body)], {
      env: { ...env, PKCS11JS: require.resolve('pkcs11js') },
      input: options,
      encoding: 'utf8',
      stdio: ['pipe', 'pipe', 'pipe'],
    });
  };
  const plant = (token: TestToken, spec: PlantSpec) => {
    // pkcs11-tool cannot write a generic secret (CKK_GENERIC_SECRET, what an HMAC key is): pkcs11js in a child
    // process instead, everything passed on stdin.
    runAsIntruder(token, PLANT_BODY, { ...spec, value: Buffer.from(spec.value).toString('hex') });
  };
  return {
    dir,
    token(label) {
      const pin = randomBytes(12).toString('hex');
      const soPin = randomBytes(12).toString('hex');
      // vitest runs a skipped describe's body to list its tests: without SoftHSM2 the token is not made (and any use
      // of it fails loudly as "no token"), so the files are reported as skipped instead of failing to load.
      if (softHsmMissing === undefined) execFileSync('softhsm2-util', ['--init-token', '--free', '--label', label, '--pin', pin, '--so-pin', soPin], { env, stdio: 'ignore' });
      const pinFile = join(dir, `${label}.pin`);
      writeFileSync(pinFile, `${pin}\n`, { mode: 0o600 });
      return {
        label,
        pinFile,
        pin,
        uri: (query) => `pkcs11:token=${encodeURIComponent(label)}?module-path=${SOFTHSM_MODULE}&pin-source=file:${pinFile}${query ? `&${query}` : ''}`,
      };
    },
    listObjects(token) {
      return execFileSync('pkcs11-tool', ['--module', SOFTHSM_MODULE, '--token-label', token.label, '--login', '--pin', token.pin, '--list-objects'], {
        env,
        encoding: 'utf8',
        // pkcs11-tool warns on stderr for every sensitive value it cannot print: expected, not test output.
        stdio: ['ignore', 'pipe', 'pipe'],
      });
    },
    plantSecretKey(token, object) {
      plant(token, { id: object.id, label: object.label, value: object.value, count: 1, flags: [['CKA_SENSITIVE', true], ['CKA_EXTRACTABLE', false], ['CKA_SIGN', true], ['CKA_VERIFY', true]] });
    },
    plantUnlabelledSecretKeys(token, objects) {
      plant(token, { id: objects.id, value: objects.value, count: objects.count, flags: [['CKA_SIGN', true]] });
    },
    deleteObjects(token, id, types) {
      for (const type of types) {
        execFileSync('pkcs11-tool', ['--module', SOFTHSM_MODULE, '--token-label', token.label, '--login', '--pin', token.pin, '--delete-object', '--type', type, '--id', Buffer.from(id, 'utf8').toString('hex')], {
          env,
          stdio: 'ignore',
        });
      }
    },
    deleteToken(token) {
      const before = new Set(readdirSync(tokens));
      const backup = join(dir, `${token.label}.backup`);
      cpSync(tokens, backup, { recursive: true });
      execFileSync('softhsm2-util', ['--delete-token', '--token', token.label], { env, stdio: 'ignore' });
      const gone = [...before].filter((name) => !existsSync(join(tokens, name)));
      if (gone.length !== 1) throw new Error(`expected one token folder to go, ${gone.length} went`);
      return {
        restore: () => cpSync(join(backup, gone[0]!), join(tokens, gone[0]!), { recursive: true }),
      };
    },
    runAsIntruder,
    cleanup() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
};

/**
 * Runs `run` holding the SoftHSM2 module this process shares with the Secure Environments under test (reference
 * counted, released after it), so a test can reach the module as another user of it would.
 */
export const withSoftHsmModule = async (run: (module: Pkcs11) => Promise<void>): Promise<void> => {
  const { module, key: moduleKey } = acquireSharedModule(SOFTHSM_MODULE);
  try {
    await run(module);
  } finally {
    releaseModule(moduleKey);
  }
};

/**
 * The slot of the token labelled `label` among those the module lists; undefined when none is (a token deleted, or one
 * whose information cannot be read at the moment).
 */
export const slotOfToken = (module: Pkcs11, label: string): ReturnType<Pkcs11['C_GetSlotList']>[number] | undefined =>
  module.C_GetSlotList(true).find((slot) => {
    try {
      return module.C_GetTokenInfo(slot).label.trim() === label;
    } catch {
      return false;
    }
  });

/** `slotOfToken`, for a token the test knows is there. */
export const presentSlotOf = (module: Pkcs11, label: string): NonNullable<ReturnType<typeof slotOfToken>> => {
  const slot = slotOfToken(module, label);
  if (slot === undefined) throw new Error(`no token ${label}`);
  return slot;
};

