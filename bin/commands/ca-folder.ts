import { existsSync, statSync } from 'node:fs';
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { fromBase64url } from '../../domain/crypto/base64url.ts';
import { certificateFingerprint } from '../../domain/crypto/fingerprint.ts';
import { validationError } from '../../domain/errors.ts';
import { ownerView, type OwnedSecureEnvironment, type RandomSource } from '../../domain/ports/index.ts';
import type { CaId } from '../../domain/x509/issuing-ca.ts';
import { subscriptionCertifiedBy } from '../../domain/x509/issuance/index.ts';
import { readCaFile } from '../../adapters/driven/pki/index.ts';
import type { DataFolderLock } from '../../adapters/runtime/index.ts';
import type { Io } from '../io.ts';
import { UsageError } from '../program.ts';
import { sayRemovedStrays, unusableDataFolderAsUsage } from './folder-lock.ts';
import { leftKeyOfRemovedFolder } from './left-key-of-removed-folder.ts';

/** The owner CA keys belong to: the infrastructure's, as the service's Enrolment Function sees them. */
export const INFRASTRUCTURE_OWNER = 'maf:infrastructure';

/** The data folder and Secure Environment settings as `credence serve` would find them (flag, environment, --config). */
export const loadFolderConfig = async (args: { readonly data?: string | undefined; readonly config?: string | undefined }, io: Io) => {
  const { loadServiceConfig } = await import('../../adapters/http/config.ts');
  const env = io.env ?? process.env;
  try {
    // The whole environment is checked for a CREDENCE_* variable nothing reads (review 123), as `credence serve` checks it.
    return loadServiceConfig(
      {
        flags: { data: args.data },
        // Only the variables it uses (review 439): a service-only one (PORT, CREDENCE_SIGNING, ...) never refuses it.
        env: { CREDENCE_DATA: env['CREDENCE_DATA'], CREDENCE_SECURE_ENVIRONMENT: env['CREDENCE_SECURE_ENVIRONMENT'] },
        ...(args.config !== undefined ? { file: args.config } : {}),
      },
      env,
      // The file's settings each checked by its own rule; those spanning two and the signing policy are serve's (review 434 M1).
      { for: 'local' },
    );
  } catch (error) {
    const issues = (error as { problem?: { issues?: { path: string; message: string }[] } }).problem?.issues;
    if (issues !== undefined) throw new UsageError(issues.map((i) => `${i.path}: ${i.message}`));
    throw error;
  }
};

/** The data folder as `credence serve` would find it (flag over CREDENCE_DATA over the --config file); it must exist. */
export const caDataDir = async (args: { readonly data?: string | undefined; readonly config?: string | undefined }, io: Io): Promise<string> => {
  const dataDir = (await loadFolderConfig(args, io)).data;
  if (!existsSync(dataDir)) throw new UsageError(`--data: no data folder at ${dataDir}`);
  if (!statSync(dataDir).isDirectory()) throw new UsageError(`--data: ${dataDir} is a file, not a folder`);
  return dataDir;
};

const lockCaFolder = (runtime: typeof import('../../adapters/runtime/index.ts'), dataDir: string, io: Io) => {
  try {
    // The command's env, not process.env: the KEK it names outside the folder is checked and swept beside with it.
    return sayRemovedStrays(runtime.lockDataFolder(dataDir, io.env ?? process.env), dataDir, io, 'ca');
  } catch (error) {
    throw unusableDataFolderAsUsage(error);
  }
};

/**
 * The data folder (found as `caDataDir` does, made when missing) with its service lock taken, so a CA is not made
 * under a running service (which would not load it before its next start) and two inits do not race on the key;
 * and its Secure Environment (embedded, or the HSM of `secureEnvironment`, refused when it holds none of the keys the
 * folder names: refuseTokenHoldingNoneOfTheFolderKeys) as the infrastructure owner. A folder
 * made here is removed again when the command is refused (a wrong PKCS#11 PIN, a refused CA): it leaves nothing.
 */
export const withCaFolder = async <T>(
  args: { readonly data?: string | undefined; readonly config?: string | undefined },
  io: Io,
  use: (folder: { dataDir: string; se: OwnedSecureEnvironment; random: RandomSource }) => Promise<T>,
): Promise<T> => {
  const config = await loadFolderConfig(args, io);
  const runtime = await import('../../adapters/runtime/index.ts');
  const lock = lockCaFolder(runtime, config.data, io);
  let done = false;
  try {
    const se = runtime.openServiceSecureEnvironment(config.data, config.secureEnvironment, { now: () => new Date(), env: io.env ?? process.env });
    try {
      // Review 230: a token holding none of the keys the folder names is another than its service's; a CA key made
      // there, its file written here, the folder's own token then refused the start.
      const { refuseTokenHoldingNoneOfTheFolderKeys } = await import('../../adapters/runtime/folder-keys-in-token.ts');
      await refuseTokenHoldingNoneOfTheFolderKeys(se, config.data, config.secureEnvironment);
      const result = await use({ dataDir: config.data, se: ownerView(se, INFRASTRUCTURE_OWNER), random: runtime.systemRandom });
      done = true;
      return result;
    } finally {
      se.close();
    }
  } catch (error) {
    if (done) throw error;
    discardQuietly(lock);
    const { isEmbedded } = await import('../../adapters/runtime/data-folder.ts');
    throw leftKeyOfRemovedFolder(error, config.data, isEmbedded(config.secureEnvironment));
  } finally {
    if (done) lock.release();
  }
};

/** A refusal is what the caller hears: a folder that cannot be removed (a file held open elsewhere) does not replace it. */
const discardQuietly = (lock: DataFolderLock): void => {
  try {
    lock.discard();
  } catch {
    lock.release();
  }
};

/** What `ca show` and the other commands print of a CA: public facts of its file and certificate. */
export const describeCa = (dataDir: string, id: CaId) => {
  const file = readCaFile(dataDir, id);
  if (file === undefined) throw validationError([{ path: 'caId', rule: 'exists', message: `no CA ${id} in ${dataDir}` }], 'issuing CA');
  // The M2M Service Subscription whose nodes it certifies, named or that of its id (review 355); none (left out of
  // --json) for `default`.
  const subscription = subscriptionCertifiedBy(file);
  if (file.state === 'awaiting_certificate') {
    return { id, subscription, state: file.state, keyKind: file.keyKind, subject: file.subject, createdAt: file.createdAt, csr: file.csr };
  }
  const der = fromBase64url(file.certificate);
  const cert = new x509.X509Certificate(der);
  return {
    id,
    subscription,
    state: file.state,
    keyKind: file.keyKind,
    subject: cert.subject,
    issuer: cert.issuer,
    serialNumber: cert.serialNumber.toLowerCase(),
    notBefore: cert.notBefore.toISOString(),
    notAfter: cert.notAfter.toISOString(),
    fingerprint: certificateFingerprint(der),
    createdAt: file.createdAt,
    certificate: file.certificate,
    chain: file.chain,
  };
};
