import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { run as verifyCommand } from '../bin/commands/verify.ts';
import { formatVerifierKey, verifyEvidenceBundle } from '../domain/transparency/index.ts';
import { keyLabel } from '../domain/transparency/note.ts';
import { capture } from './support/cli.ts';
import { evidenceLog, loggedEvent } from './support/evidence-bundle.ts';
import { fixedSigner, keyOf, ORIGIN, tempDirs } from './transparency-fixtures.ts';

/*
 * Review 296 item 2: a genuine bundle, signed by the pinned key, with only its `logPublicKey` member replaced by another
 * key of the same name failed `untrusted_key` "the bundle is not signed by the key …; it names …, another key of that
 * name": false, the pinned key signed it. The checkpoint is opened under the pinned key first; when it verifies, the
 * bundle still fails, saying that its logPublicKey member disagrees with the key that signed its checkpoint.
 */
const dirs = tempDirs();
afterEach(() => dirs.cleanup());

const signer = fixedSigner(1, ORIGIN);
const other = fixedSigner(2, ORIGIN);
const [genuine, replaced] = [keyOf(signer), keyOf(other)];
const events = [loggedEvent(0), loggedEvent(1), loggedEvent(2)];

describe('a genuine bundle whose logPublicKey member names another key of that name', () => {
  it('fails, saying the member disagrees with the key that signed its checkpoint, both named by key ID; not that the pinned key did not sign it', async () => {
    const bundle = await evidenceLog(events, signer).bundle();
    bundle['logPublicKey'] = formatVerifierKey(replaced);
    const result = verifyEvidenceBundle(bundle, { trustedKey: genuine });
    expect(result.ok).toBe(false);
    const message = !result.ok ? result.message : '';
    expect(message).not.toContain('is not signed by');
    expect(message).toContain(`the bundle's logPublicKey member names ${keyLabel(replaced)}`);
    expect(message).toContain(`disagrees with the key that signed its checkpoint, ${keyLabel(genuine)}`);
    // Key IDs only: neither key's bytes.
    expect(message).not.toContain(formatVerifierKey(genuine).split('+')[2]);
    expect(message).not.toContain(formatVerifierKey(replaced).split('+')[2]);

    const file = join(dirs.make(), 'b.json');
    writeFileSync(file, JSON.stringify(bundle));
    const c = capture();
    expect(await verifyCommand([file, '--key', formatVerifierKey(genuine)], c.io)).toBe(1);
    expect(c.err.join('\n')).toBe(`FAILED (untrusted_key): ${message}`);
  });

  it('signed by another key than the pinned one, it is still "not signed by the key" pinned', async () => {
    const bundle = await evidenceLog(events, other).bundle();
    const result = verifyEvidenceBundle(bundle, { trustedKey: genuine });
    expect(result).toMatchObject({ ok: false, reason: 'untrusted_key', message: expect.stringContaining(`the bundle is not signed by the key ${keyLabel(genuine)}; it names ${keyLabel(replaced)}`) });
  });
});
