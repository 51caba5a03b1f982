import { randomBytes } from 'node:crypto';
import { chmodSync, chownSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { lockDataFolder, openServiceSecureEnvironment } from '../adapters/runtime/data-folder.ts';
import { assertKekFileUsable } from '../adapters/runtime/kek-file.ts';
import { isCredenceError, type FieldIssue } from '../domain/errors.ts';
import { temporaryFolders } from './support/temp-dirs.ts';
import { treeSnapshot } from './support/outside-kek-folder.ts';

/*
 * Hardening follow-up (KEK as a container secret): Docker and Kubernetes mount a secret as a file of root (uid 0),
 * mode 0444 or 0644, in a read-only folder. A KEK so mounted (CREDENCE_KEK_FILE) is rightly refused (another
 * account's, readable by every local account), but the refusal said `sudo -u '#0'`, `chown` or `chmod 600`, none of
 * which an operator can do to a read-only mount. The rule stands; each refusal now names the setting, the rule, the
 * owner and mode found and what to set where the secret is mounted (Docker `uid`/`mode`, Kubernetes `defaultMode`,
 * or a copy into a private folder), never the KEK itself.
 *
 * A service that runs as another account than root is this process with its effective uid reported as that account's
 * (process.geteuid), as the checks read it; the files stay root's, as a mount gives them. Making a file or folder
 * another account's takes chown, and a file root's while the test runs as another account is impossible: as anyone
 * but root these tests cannot run (CI runs as root).
 */
const asRoot = process.geteuid?.() === 0;
const scratch = temporaryFolders('credence-kek-secret-');
const random = (n: number) => new Uint8Array(randomBytes(n));
const now = () => new Date('2026-01-01T00:00:00Z');
const FIELD = 'env CREDENCE_KEK_FILE';
/** The uid tests give a file or folder to make it another account's (chown: root only). */
const NOBODY = 65534;

afterEach(() => vi.restoreAllMocks());

/** Credence running as `uid`, as every owner check reads it. */
const runningAs = (uid: number) => vi.spyOn(process, 'geteuid').mockReturnValue(uid);

/** A secret as Docker or Kubernetes mounts it: `secrets/credence.kek`, root's in a root folder (0755), of `mode`. */
const mountedSecret = (mode: number) => {
  const secrets = join(scratch(), 'secrets');
  mkdirSync(secrets);
  chmodSync(secrets, 0o755);
  const kek = join(secrets, 'credence.kek');
  const content = Buffer.from(randomBytes(32)).toString('base64url');
  writeFileSync(kek, `${content}\n`);
  chmodSync(kek, mode);
  return { secrets, kek, content, env: { CREDENCE_KEK_FILE: kek } };
};

const refusalOf = (run: () => unknown): FieldIssue[] => {
  try {
    run();
  } catch (error) {
    if (isCredenceError(error) && error.problem.code === 'validation') return [...error.problem.issues];
    throw error;
  }
  throw new Error('not refused');
};

const openIn = (dir: string, env: Record<string, string>) => () => openServiceSecureEnvironment(dir, undefined, { now, random, env }).close();

describe.skipIf(!asRoot)('a KEK mounted as a container secret (root-owned), for a service that runs as another account (needs root)', () => {
  // Each way in: the Secure Environment's opening (the folder not made yet), the folder's lock (credence query,
  // projections, replay), and the KEK's own check as the opening reads it (through one descriptor, kek.ts).
  const ways = [
    ['the opening', (dir: string, env: Record<string, string>) => openIn(join(dir, 'new'), env)],
    [
      "the data folder's lock",
      (dir: string, env: Record<string, string>) => {
        mkdirSync(join(dir, 'data'), { mode: 0o700 });
        chownSync(join(dir, 'data'), NOBODY, NOBODY);
        return () => lockDataFolder(join(dir, 'data'), env).release();
      },
    ],
    ['the KEK check', (dir: string, env: Record<string, string>) => () => assertKekFileUsable(env['CREDENCE_KEK_FILE']!, join(dir, 'new'))],
  ] as const;

  it.each(ways.flatMap(([way, prepare]) => [0o444, 0o644, 0o440].map((mode) => [way, mode.toString(8), mode, prepare] as const)))(
    '%s refuses a mode 0%s KEK as owner, naming root, the mode and the fields to set where it is mounted; nothing is made',
    (_way, shown, mode, prepare) => {
      const { secrets, kek, content, env } = mountedSecret(mode);
      const root = scratch();
      const run = prepare(root, env);
      const before = { secrets: treeSnapshot(secrets), root: treeSnapshot(root) };
      runningAs(NOBODY);

      const issues = refusalOf(run);

      expect(issues.map((i) => [i.path, i.rule])).toEqual([[FIELD, 'owner']]);
      const { message } = issues[0]!;
      expect(message).toContain(`${kek} is owned by root (uid 0), mode 0${shown}, not by uid ${NOBODY} that Credence runs as`);
      expect(message).toContain(`uid: "${NOBODY}"`); // Docker swarm long syntax
      expect(message).toContain('mode: 0400');
      expect(message).toContain(`chown ${NOBODY}`); // a Compose file: secret is the host file, bind-mounted
      expect(message).toMatch(/Kubernetes .*copy it at start/);
      expect(message).toContain('mode 0700');
      // Running as root's uid is no advice for a service account; chown applies to a file on a disk only.
      expect(message).not.toContain("sudo -u '#0'");
      expect(message).toContain(`on a disk, chown ${NOBODY} ${kek} and chmod 600 ${kek}`);
      expect(message).not.toContain(content);
      expect({ secrets: treeSnapshot(secrets), root: treeSnapshot(root) }).toEqual(before);
      expect(existsSync(join(root, 'new'))).toBe(false);
    },
  );

  it("a KEK of another account than root (a secret given the wrong uid) names that uid, the service's and the field to set", () => {
    const { secrets, kek, content, env } = mountedSecret(0o400);
    chownSync(kek, 1000, 1000);
    const root = scratch();
    runningAs(NOBODY);

    for (const run of [openIn(join(root, 'new'), env), () => assertKekFileUsable(kek, join(root, 'new'))]) {
      const issues = refusalOf(run);
      expect(issues.map((i) => [i.path, i.rule])).toEqual([[FIELD, 'owner']]);
      expect(issues[0]!.message).toContain(`${kek} is owned by uid 1000, mode 0400, not by uid ${NOBODY} that Credence runs as`);
      expect(issues[0]!.message).toContain(`uid: "${NOBODY}"`);
      expect(issues[0]!.message).not.toContain(content);
    }
    expect(existsSync(join(root, 'new'))).toBe(false);
    expect(treeSnapshot(secrets)[`credence.kek`]).toMatch(/^1000 400 /);
  });

  it("a KEK's folder of another account names that account's role: neither the one Credence runs as nor root", () => {
    const { secrets, kek, env } = mountedSecret(0o400);
    chownSync(kek, 1000, 1000);
    chownSync(secrets, NOBODY, NOBODY);
    const root = scratch();
    runningAs(1000);

    for (const run of [openIn(join(root, 'new'), env), () => assertKekFileUsable(kek, join(root, 'new'))]) {
      const issues = refusalOf(run);
      expect(issues[0]).toMatchObject({ path: FIELD, rule: 'owner' });
      expect(issues[0]!.message).toContain(`${secrets} is owned by uid ${NOBODY}, neither by uid 1000 that Credence runs as nor by root (either may own it)`);
      expect(issues[0]!.message).toContain('could delete or replace the KEK');
      expect(issues[0]!.message).not.toContain("sudo -u '#");
    }
    expect(existsSync(join(root, 'new'))).toBe(false);
  });

  it('what the advice says is accepted: the secret copied at start, 0600 and the service account\'s, in a folder of root or of that account', () => {
    const { secrets, kek } = mountedSecret(0o600);
    chownSync(kek, NOBODY, NOBODY);
    const own = join(scratch(), 'kek');
    mkdirSync(own, { mode: 0o700 });
    const copy = join(own, 'credence.kek');
    writeFileSync(copy, `${Buffer.from(randomBytes(32)).toString('base64url')}\n`, { mode: 0o600 });
    chownSync(copy, NOBODY, NOBODY);
    chownSync(own, NOBODY, NOBODY);
    runningAs(NOBODY);

    expect(() => assertKekFileUsable(kek, join(scratch(), 'data'))).not.toThrow();
    expect(() => assertKekFileUsable(copy, join(scratch(), 'data'))).not.toThrow();
    expect(treeSnapshot(secrets)['credence.kek']).toMatch(new RegExp(`^${NOBODY} 600 `));
  });
});

describe('a KEK mounted as a container secret, for a service that runs as the secret\'s owner (root in a container)', () => {
  it.each([
    ['444', 0o444],
    ['644', 0o644],
  ])("mode 0%s (Docker's and Kubernetes' defaults) is refused naming the mode and the mount's mode fields; nothing is made", (shown, mode) => {
    const { secrets, kek, content, env } = mountedSecret(mode);
    const root = scratch();
    const before = treeSnapshot(secrets);

    const issues = refusalOf(openIn(join(root, 'new'), env));

    expect(issues.map((i) => i.path)).toEqual([FIELD]);
    const { message } = issues[0]!;
    expect(message).toContain(`${kek}: must not be readable by group or others (mode 0${shown} found`);
    expect(message).toContain(`chmod 600 ${kek}`);
    expect(message).toContain('mode: 0400'); // Docker swarm long syntax
    expect(message).toContain('defaultMode: 0400'); // Kubernetes secret volume
    expect(message).toContain('fsGroup'); // which adds group read whatever defaultMode says
    expect(message).not.toContain(content);
    expect(treeSnapshot(secrets)).toEqual(before);
    expect(existsSync(join(root, 'new'))).toBe(false);
  });

  it('mode 0400 (defaultMode: 0400 for a service that runs as root) opens, and makes the key database', () => {
    const { env } = mountedSecret(0o400);
    const dir = join(scratch(), 'data');
    openIn(dir, env)();
    expect(existsSync(join(dir, 'secure-environment.sqlite'))).toBe(true);
  });
});
