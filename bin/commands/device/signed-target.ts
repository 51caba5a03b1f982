import { requestSigner, type SigningArgs } from '../submit.ts';
import type { ServerTarget } from '../options.ts';
import type { OperatorTarget } from './steps.ts';

/**
 * Runs `work` with `target` signing its operator commands as the signing options say (submit.ts: --sign-key, the
 * actor and audience), the key read and checked before anything is sent and wiped once `work` is done.
 */
export const withSigner = async <T>(target: ServerTarget, o: SigningArgs, work: (target: OperatorTarget) => Promise<T>): Promise<T> => {
  const signer = requestSigner(o, target.token);
  try {
    return await work(signer !== undefined ? { ...target, signer } : target);
  } finally {
    signer?.forget();
  }
};
