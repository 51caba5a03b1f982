import { existsSync, statSync } from 'node:fs';
import { ownerView } from '../../domain/ports/index.ts';
import type { CaId } from '../../domain/x509/issuing-ca.ts';
import type { CaFile } from '../../adapters/driven/pki/index.ts';
import type { Io } from '../io.ts';
import { INFRASTRUCTURE_OWNER, loadFolderConfig } from './ca-folder.ts';

/** Whether the Secure Environment holds a CA's key: `unchecked` when it could not be asked (`reason` says why). */
export type CaKeyState = 'held' | 'missing' | 'unchecked';

export interface CaKeyStates {
  readonly of: ReadonlyMap<CaId, CaKeyState>;
  /** The Secure Environment asked, as a person names it: the folder's embedded one, or the token of a pkcs11: setting. */
  readonly where: string;
  /** Why some key could not be checked: the Secure Environment's own refusal (never a PIN or key material). */
  readonly reason?: string;
}

/**
 * For `credence ca show`: whether the Secure Environment the service uses holds each CA's key (review 203: a CA whose
 * key was deleted was listed `active`, and only the next start said anything, naming neither CA nor file). Read
 * only and without the folder's lock, so it works beside a running service as `ca show` always has (the embedded key
 * database is made for several processes: rollback journal, immediate transactions). An embedded key database that
 * is absent or empty is not opened (opening makes one, and a KEK): the keys are `unchecked`, since the CA may have been
 * made in an HSM whose setting this run was not given. A Secure Environment that cannot be opened (a token gone, no
 * PIN) leaves the keys `unchecked` too: the listing of the files still stands.
 */
export const caKeyStates = async (
  args: { readonly data?: string | undefined; readonly config?: string | undefined },
  io: Io,
  files: readonly CaFile[],
): Promise<CaKeyStates> => {
  const of = new Map<CaId, CaKeyState>();
  const config = await loadFolderConfig(args, io);
  const runtime = await import('../../adapters/runtime/data-folder.ts');
  const embedded = runtime.isEmbedded(config.secureEnvironment);
  const where = embedded ? `the embedded Secure Environment of ${config.data}` : 'the token of the pkcs11: Secure Environment setting';
  if (files.length === 0) return { of, where };
  const unchecked = (reason: string): CaKeyStates => {
    for (const file of files) if (!of.has(file.id)) of.set(file.id, 'unchecked');
    return { of, where, reason };
  };
  if (embedded) {
    const { secureEnvironmentConfigForDataDir } = await import('../../adapters/driven/secure-environment/index.ts');
    const { database } = secureEnvironmentConfigForDataDir(config.data);
    if (!existsSync(database) || statSync(database).size === 0) {
      return unchecked(`${config.data} has no embedded key database (secure-environment.sqlite); if the service runs with an HSM, give its setting (CREDENCE_SECURE_ENVIRONMENT or --config)`);
    }
  }
  const failed = (error: unknown): CaKeyStates => unchecked(error instanceof Error ? error.message : String(error));
  let se: import('../../adapters/runtime/data-folder.ts').ClosableSecureEnvironment;
  try {
    se = runtime.openServiceSecureEnvironment(config.data, config.secureEnvironment, { now: () => new Date(), env: io.env ?? process.env });
  } catch (error) {
    return failed(error);
  }
  try {
    const { caKeyHeld } = await import('../../adapters/driven/pki/index.ts');
    const infrastructure = ownerView(se, INFRASTRUCTURE_OWNER);
    for (const file of files) of.set(file.id, (await caKeyHeld(infrastructure, file)) ? 'held' : 'missing');
    return { of, where };
  } catch (error) {
    return failed(error);
  } finally {
    se.close();
  }
};
