/**
 * Review 324 item 1: the service's configuration file and its PKCS#11 module were read and loaded with no check of
 * who may write them. Whoever can write the configuration file drops `signing` (SER-016 off, though the policy file
 * itself is held to the trusted-file rules) or points module-path at a library of theirs, which the service then
 * loads, as its own account, with the token logged in. Both are now held to the rules of every other trusted file
 * (trusted-file.ts): the file, and the folders above it, this account's or root's and not writable by group or others.
 */
import { chmodSync, copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadServiceConfig } from '../adapters/http/config.ts';
import { Pkcs11SecureEnvironment } from '../adapters/driven/secure-environment/pkcs11/index.ts';
import { acquireSharedModule, releaseModule } from '../adapters/driven/secure-environment/pkcs11/shared-module.ts';
import { runCli } from './support/cli.ts';
import { softHsm, softHsmMissing, SOFTHSM_MODULE } from './support/softhsm.ts';
import { temporaryFolders } from './support/temp-dirs.ts';
import { firstIssueOf } from './support/first-issue.ts';

const scratch = temporaryFolders('credence-trusted-config-');



/** A config file of `mode` in a folder of `folderMode` (chmod'ed after writing: the umask does not decide). */
const configFile = (mode: number, folderMode = 0o700): string => {
  const folder = join(scratch(), 'etc');
  mkdirSync(folder);
  const file = join(folder, 'credence.json');
  writeFileSync(file, JSON.stringify({ port: 9000 }));
  chmodSync(file, mode);
  chmodSync(folder, folderMode);
  return file;
};

describe('the service configuration file', () => {
  it('is read when only this account or root may write it and its folders', () => {
    expect(loadServiceConfig({ file: configFile(0o644) }).port).toBe(9000);
    expect(loadServiceConfig({ file: configFile(0o600, 0o755) }).port).toBe(9000);
  });

  it('is refused when group or others may write it, naming the file and the rule', () => {
    const file = configFile(0o666);
    const issue = firstIssueOf(() => loadServiceConfig({ file }));
    expect(issue).toMatchObject({ path: `file ${file}`, rule: 'trusted_file' });
    expect(issue?.message).toContain(`${file} may be written by group or others (mode 0666)`);
  });

  it('is refused when group or others may write the folder it is in', () => {
    const file = configFile(0o644, 0o777);
    const issue = firstIssueOf(() => loadServiceConfig({ file }));
    expect(issue).toMatchObject({ path: `file ${file}`, rule: 'trusted_file' });
    expect(issue?.message).toContain('which group or others may write (mode 0777)');
  });

  it('serve --config refuses it with exit 2 before anything opens', async () => {
    const file = configFile(0o666);
    const data = join(scratch(), 'data');
    const run = await runCli(['serve', '--config', file, '--data', data]);
    expect(run.code).toBe(2);
    expect(run.err).toContain(`file ${file}`);
    expect(run.err).toContain('may be written by group or others (mode 0666)');
  });
});

describe.skipIf(softHsmMissing !== undefined)('the PKCS#11 module file', () => {
  const hsm = softHsm();
  afterAll(() => hsm.cleanup());
  const token = hsm.token('trusted');
  const random = (length: number) => new Uint8Array(randomBytes(length));

  /** A copy of the SoftHSM2 module of `mode` in a folder of `folderMode`. */
  const moduleCopy = (mode: number, folderMode = 0o700): string => {
    const folder = join(scratch(), 'lib');
    mkdirSync(folder);
    const file = join(folder, 'libpkcs11.so');
    copyFileSync(SOFTHSM_MODULE, file);
    chmodSync(file, mode);
    chmodSync(folder, folderMode);
    return file;
  };

  it('the default SoftHSM2 module (root-owned, through a link) is loaded', () => {
    releaseModule(acquireSharedModule(SOFTHSM_MODULE).key);
    Pkcs11SecureEnvironment.open({ uri: token.uri() }, { random }).close();
  });

  it('is refused before it is loaded when group or others may write it, naming module-path and the rule', () => {
    const file = moduleCopy(0o666);
    const issue = firstIssueOf(() => acquireSharedModule(file));
    expect(issue).toMatchObject({ path: 'module-path', rule: 'trusted_file' });
    expect(issue?.message).toContain(`${file} may be written by group or others (mode 0666)`);
    expect(firstIssueOf(() => Pkcs11SecureEnvironment.open({ uri: token.uri().replace(SOFTHSM_MODULE, file) }, { random }))).toMatchObject({ path: 'module-path', rule: 'trusted_file' });
  });

  it('is refused when group or others may write the folder it is in', () => {
    const file = moduleCopy(0o755, 0o777);
    const issue = firstIssueOf(() => acquireSharedModule(file));
    expect(issue).toMatchObject({ path: 'module-path', rule: 'trusted_file' });
    expect(issue?.message).toContain('which group or others may write (mode 0777)');
  });
});
