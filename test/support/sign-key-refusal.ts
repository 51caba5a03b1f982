import { readSignKey } from '../../bin/commands/sign-key.ts';

/** A --sign-key file's contents: an Ed25519 key of fixed bytes. */
export const SIGN_KEY = JSON.stringify({ algorithm: 'ed25519', secretKey: Buffer.alloc(32, 7).toString('base64url') });

/** Why readSignKey refuses `path` (its message), or 'read' when it reads the key. */
export const signKeyRefusal = (path: string): string => {
  try {
    readSignKey(path);
  } catch (error) {
    return (error as Error).message;
  }
  return 'read';
};
