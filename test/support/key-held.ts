import { isCredenceError, isKeyNotFound } from '../../domain/errors.ts';
import { openDataFolderSecureEnvironment } from '../../adapters/runtime/index.ts';
import { ownerView, type KeyHandle, type OwnedSecureEnvironment, type SecureEnvironment } from '../../domain/ports/index.ts';
import type { TestService } from './service.ts';

/** Whether the Secure Environment still holds `handle` for this owner: destroyed is false, any other failure throws. */
export const isHeld = (se: OwnedSecureEnvironment, handle: KeyHandle): Promise<boolean> =>
  se.describe(handle).then(
    () => true,
    (error: unknown) => {
      if (isKeyNotFound(error)) return false;
      throw error;
    },
  );

/** A data folder's embedded Secure Environment as `owner` sees it, closed after `use` (the CLI opens its own). */
export const withDataFolderSe = async <T>(dir: string, owner: string, use: (se: OwnedSecureEnvironment) => Promise<T>): Promise<T> => {
  const se = openDataFolderSecureEnvironment(dir, { now: () => new Date() });
  try {
    return await use(ownerView(se, owner));
  } finally {
    se.close();
  }
};

/** Every PSK the infrastructure's Secure Environment imports from here on (the Enrolment Function's copies). */
export const watchPskCopies = (se: SecureEnvironment): KeyHandle[] => {
  const copies: KeyHandle[] = [];
  const unwrap = se.unwrap.bind(se);
  se.unwrap = async (owner, wrappingKey, wrapped, aad, spec) => {
    const handle = await unwrap(owner, wrappingKey, wrapped, aad, spec);
    if (handle !== undefined && spec.kind === 'psk256') copies.push(handle);
    return handle;
  };
  return copies;
};

/** Which of `handles` the Secure Environment `se` still holds. */
export const held = async (se: SecureEnvironment, owner: string, handles: readonly KeyHandle[]) => {
  const out: KeyHandle[] = [];
  for (const handle of handles) {
    const found = await se.describe(owner, handle).then(
      () => true,
      (e: unknown) => (isCredenceError(e, 'not_found') ? false : Promise.reject(e)),
    );
    if (found) out.push(handle);
  }
  return out;
};

/** Waits (the service's shredder reacts on its own) until its key registry holds no key in use of these streams. */
export const shredded = async (service: TestService, streams: readonly string[]): Promise<void> => {
  const { infrastructure } = await service.service.context.credence.security();
  for (let round = 0; round < 200; round++) {
    if (streams.every((s) => infrastructure.o.registry.live(s).length === 0)) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`the keys of ${streams.join(', ')} were never destroyed`);
};
