import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openDataFolderSecureEnvironment } from '../adapters/runtime/index.ts';
import { main } from '../bin/cli.ts';
import { ownerView } from '../domain/ports/index.ts';
import { capture } from './support/cli.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

/*
 * Review 243 finding 2: a KEK file of 43 base64url characters whose last one is not the canonical spelling of its
 * bits (42 'A' then 'B': two trailing bits set) passed the shape check and threw a bare TypeError from the decoder:
 * `key list` and `serve` said only "error: text must be canonical unpadded base64url", naming no file. It is damaged
 * as any other KEK that does not hold 32 bytes, and refused so, by name (rule key_file).
 */
const scratch = temporaryFolders('credence-kek-non-canonical-');
const NON_CANONICAL = `${'A'.repeat(42)}B\n`;

const credence = async (argv: string[], env: Record<string, string> = {}) => {
  const { io, out, err } = capture();
  const code = await main(argv, { ...io, env });
  return { code, out: out.join('\n'), err: err.join('\n') };
};

describe('a KEK file of 43 characters with a non-canonical last one', () => {
  it.each([
    ['in the data folder', false],
    ['named by CREDENCE_KEK_FILE', true],
  ])('%s: refused naming the file as damaged, not a bare decoding error', async (_where, outside) => {
    const root = scratch();
    const data = join(root, 'data');
    const kek = outside ? join(root, 'credence.kek') : join(data, 'secure-environment.kek');
    const se = openDataFolderSecureEnvironment(data, { now: () => new Date(), ...(outside ? { kekFile: kek } : {}) });
    await ownerView(se, 'maf:infrastructure').generate('psk256');
    se.close();
    writeFileSync(kek, NON_CANONICAL, { mode: 0o600 });

    const run = await credence(['key', 'list', '--data', data], outside ? { CREDENCE_KEK_FILE: kek } : {});
    expect(run.code).toBe(1);
    expect(run.err).not.toContain('canonical unpadded base64url');
    expect(run.err).toContain(`${kek}: must hold 32 bytes as base64url (damaged or truncated?`);
  });
});
