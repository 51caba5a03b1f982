import type { KeyHandle, SecureEnvironment } from '../../domain/ports/secure-environment.ts';

/** The port's calls that make a key and answer its handle (unwrap: or undefined, when it does not open). */
type KeyMaking = 'generate' | 'agree' | 'deriveKey' | 'unwrap';

/**
 * Every handle `se` makes from now on through `calls`, in order: wraps those methods of this one instance, so a test
 * can ask afterwards which keys a run left behind.
 */
export const keysMadeBy = (se: SecureEnvironment, calls: readonly KeyMaking[]): KeyHandle[] => {
  const made: KeyHandle[] = [];
  const methods = se as unknown as Record<KeyMaking, (...args: unknown[]) => Promise<KeyHandle | undefined>>;
  for (const call of calls) {
    const original = methods[call].bind(se);
    methods[call] = async (...args: unknown[]) => {
      const handle = await original(...args);
      if (handle !== undefined) made.push(handle);
      return handle;
    };
  }
  return made;
};
