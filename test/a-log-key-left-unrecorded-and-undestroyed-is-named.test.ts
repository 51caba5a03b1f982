import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { EmbeddedSecureEnvironment } from '../adapters/driven/secure-environment/index.ts';
import { DEFAULT_LOG_ORIGIN, KEY_HANDLE_FILE, LOG_KEY_OWNER, openSecureEnvironmentSignerInDir } from '../adapters/driven/transparency/index.ts';
import { keyNotFound } from '../domain/errors.ts';
import type { KeyHandle, OwnedSecureEnvironment } from '../domain/ports/index.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

/*
 * Review 53 item 4: when another process recorded its log key first, the key this one had just generated was
 * destroyed "best effort", a failed destroy swallowed: the key stayed in the Secure Environment, named by nothing.
 * The failure now names it, so that the operator destroys it.
 */
const scratch = temporaryFolders('credence-log-key-destroy-');

const embedded = () =>
  EmbeddedSecureEnvironment.open({ database: ':memory:', kek: { source: 'ephemeral' } }, { now: () => new Date(), random: (n) => new Uint8Array(randomBytes(n)) });

/** The log key's view of `se`, where another process records its handle while this one generates, and destroy fails so. */
const racing = (view: OwnedSecureEnvironment, dir: string, other: KeyHandle, destroyFails: () => Error) => {
  const generated: KeyHandle[] = [];
  const se: OwnedSecureEnvironment = {
    ...view,
    async generate(kind, options) {
      const handle = await view.generate(kind, options);
      generated.push(handle);
      writeFileSync(join(dir, KEY_HANDLE_FILE), `${other}\n`, { mode: 0o600 });
      return handle;
    },
    destroy: async () => {
      throw destroyFails();
    },
  };
  return { se, generated };
};

describe('a log key generated while another process recorded its own', () => {
  it('that cannot be destroyed is named in the error, with the owner it stays under and the command that destroys it', async () => {
    const dir = scratch();
    const view = embedded().forOwner(LOG_KEY_OWNER);
    const other = await view.generate('ed25519');
    const { se, generated } = racing(view, dir, other, () => new Error('the token went away'));
    const opening = openSecureEnvironmentSignerInDir(dir, se, DEFAULT_LOG_ORIGIN);
    await expect(opening).rejects.toThrow(/was not recorded .* could not be destroyed \(the token went away\)/);
    const message = await opening.catch((error: Error) => error.message);
    expect(message).toContain(generated[0]);
    expect(message).toContain(`stays in the Secure Environment as ${LOG_KEY_OWNER}, named by nothing`);
    // What destroys it, in full: the error is the only record of the key.
    expect(message).toContain(`credence key destroy --owner ${LOG_KEY_OWNER} --handle ${generated[0]} --data`);
    // The other process's handle stays recorded.
    expect(readFileSync(join(dir, KEY_HANDLE_FILE), 'utf8')).toBe(`${other}\n`);
  });

  it('already gone counts as destroyed: the recorded key is the log key', async () => {
    const dir = scratch();
    const view = embedded().forOwner(LOG_KEY_OWNER);
    const other = await view.generate('ed25519');
    const { se } = racing(view, dir, other, () => keyNotFound('gone' as KeyHandle));
    const signer = await openSecureEnvironmentSignerInDir(dir, se, DEFAULT_LOG_ORIGIN);
    expect(signer.publicKey).toEqual((await view.describe(other)).publicKey);
  });
});
