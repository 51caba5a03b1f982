/**
 * Review 52 item 3: `openCredence` refused a folder without `transparency.key` and without `transparencySigner` only
 * when `security.se` was `instanceof Pkcs11SecureEnvironment`. A decorator around the HSM's Secure Environment (metrics,
 * logging) failed that check, and the log key was written as a file in the folder, outside the HSM. Now only the
 * embedded Secure Environment, known by its brand (also through a Proxy), opens without a signer; every other one is
 * refused before anything is written, and opens with the signer of `openHsmLogKey(dir, se)` like a PKCS#11 one.
 */
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { EmbeddedSecureEnvironment, FakeClock, isCredenceError, openCredence, openHsmLogKey, Pkcs11SecureEnvironment, systemRandom } from 'credence';
import { KEY_FILE, LOG_KEY_OWNER } from '../adapters/driven/transparency/index.ts';
import type { SecureEnvironment } from '../domain/ports/index.ts';
import { cmd, operator, T0 } from './support/fleet.ts';
import { softHsm, softHsmMissing, type TestToken } from './support/softhsm.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

const scratch = temporaryFolders('credence-wrapped-se-');
const clock = new FakeClock(T0);

const PORT = ['generate', 'describe', 'sign', 'agree', 'deriveKey', 'mac', 'verifyMac', 'seal', 'open', 'wrap', 'unwrap', 'destroy'] as const;

/** A hand-written decorator over the port, as a deployment adds for metrics: it counts each call and delegates. */
const counting = (se: SecureEnvironment, calls: string[]): SecureEnvironment =>
  Object.fromEntries(
    PORT.map((name) => [name, (...args: unknown[]): unknown => (calls.push(name), (se[name] as (...a: unknown[]) => unknown).apply(se, args))]),
  ) as unknown as SecureEnvironment;

/** A Proxy that forwards every property, its methods bound to the target (private fields need the real `this`). */
const proxied = <T extends object>(se: T): T =>
  new Proxy(se, {
    get: (target, key) => {
      const value: unknown = Reflect.get(target, key);
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });

const openWithoutSigner = (dir: string, se: SecureEnvironment) => openCredence({ location: { dir }, clock, security: { se, random: systemRandom, actor: operator } });

/** Opening a folder not made yet, and an empty one, is refused naming transparencySigner; neither gets anything. */
const expectRefusedWritingNothing = (se: SecureEnvironment, which: string): void => {
  const absent = join(scratch(), 'absent');
  const empty = join(scratch(), 'empty');
  mkdirSync(empty, { mode: 0o700 });
  for (const dir of [absent, empty]) {
    let refusal: unknown;
    try {
      openWithoutSigner(dir, se);
    } catch (error) {
      refusal = error;
    }
    expect(isCredenceError(refusal, 'validation')).toBe(true);
    const issues = (refusal as { problem: { issues: { path: string; rule: string; message: string }[] } }).problem.issues;
    expect(issues).toMatchObject([{ path: 'transparencySigner', rule: 'log_key_in_hsm' }]);
    expect(issues[0]!.message).toContain(which);
    expect(issues[0]!.message).toContain('openHsmLogKey(dir, se)');
  }
  expect(existsSync(absent)).toBe(false);
  expect(readdirSync(empty)).toEqual([]);
};

const embedded = () => EmbeddedSecureEnvironment.open({ database: ':memory:', kek: { source: 'ephemeral' } }, { now: () => clock.now(), random: systemRandom });

describe.skipIf(softHsmMissing !== undefined)('a PKCS#11 Secure Environment behind a decorator', () => {
  const hsm = softHsm();
  afterAll(() => hsm.cleanup());
  const logKeysIn = (t: TestToken): number => hsm.listObjects(t).split(/\n(?=\S)/).filter((block) => block.includes(LOG_KEY_OWNER) && block.startsWith('Private Key Object')).length;

  it('a counting decorator around it is refused without transparencySigner, and nothing is written in the folder or the token', () => {
    const token = hsm.token('decorated');
    const se = Pkcs11SecureEnvironment.open({ uri: token.uri() }, { random: systemRandom });
    try {
      const calls: string[] = [];
      expectRefusedWritingNothing(counting(se, calls), 'not the embedded Secure Environment');
      expect(calls).toEqual([]);
      expect(logKeysIn(token)).toBe(0);
    } finally {
      se.close();
    }
  });

  it('a Proxy of it is refused as well', () => {
    const token = hsm.token('proxied');
    const se = Pkcs11SecureEnvironment.open({ uri: token.uri() }, { random: systemRandom });
    try {
      expectRefusedWritingNothing(proxied(se), 'Secure Environment and');
      expect(logKeysIn(token)).toBe(0);
    } finally {
      se.close();
    }
  });

  it('the decorator opens with the signer of openHsmLogKey(dir, decorator): the log key is made in the token, through it', async () => {
    const token = hsm.token('signed');
    const se = Pkcs11SecureEnvironment.open({ uri: token.uri() }, { random: systemRandom });
    const dir = join(scratch(), 'data');
    try {
      const calls: string[] = [];
      const decorated = counting(se, calls);
      const logKey = await openHsmLogKey(dir, decorated);
      if (logKey.place !== 'hsm') throw new Error(`expected the log key in the HSM: ${logKey.warning}`);
      const credence = openCredence({ location: { dir }, clock, security: { se: decorated, random: systemRandom, actor: operator }, transparencySigner: logKey.signer });
      await credence.engine.execute(cmd.registerNode('meter-1'));
      await credence.close();
      expect(existsSync(join(dir, KEY_FILE))).toBe(false);
      expect(logKeysIn(token)).toBe(1);
      expect(calls).toContain('generate');
      expect(calls).toContain('sign');
    } finally {
      se.close();
    }
  });
});

describe('the embedded Secure Environment', () => {
  it('opens a new folder without transparencySigner, the log key in the folder beside its own keys', async () => {
    const se = embedded();
    const dir = join(scratch(), 'data');
    try {
      const credence = openWithoutSigner(dir, se);
      await credence.close();
      expect(existsSync(join(dir, KEY_FILE))).toBe(true);
    } finally {
      se.close();
    }
  });

  it('opens the same way through a Proxy, which forwards its brand', async () => {
    const se = embedded();
    const dir = join(scratch(), 'data');
    try {
      const credence = openWithoutSigner(dir, proxied(se));
      await credence.engine.execute(cmd.registerNode('meter-1'));
      await credence.close();
      expect(existsSync(join(dir, KEY_FILE))).toBe(true);
    } finally {
      se.close();
    }
  });

  it('behind a hand-written decorator is refused without transparencySigner (nothing says where its keys are), and opens with one', async () => {
    const se = embedded();
    try {
      const decorated = counting(se, []);
      expectRefusedWritingNothing(decorated, 'not the embedded Secure Environment');
      const dir = join(scratch(), 'data');
      const logKey = await openHsmLogKey(dir, decorated);
      if (logKey.place !== 'hsm') throw new Error(`expected the log key in the Secure Environment: ${logKey.warning}`);
      const credence = openCredence({ location: { dir }, clock, security: { se: decorated, random: systemRandom, actor: operator }, transparencySigner: logKey.signer });
      await credence.close();
      expect(existsSync(join(dir, KEY_FILE))).toBe(false);
    } finally {
      se.close();
    }
  });
});
