/**
 * JSON.parse refuses a text that starts with U+FEFF, and every JSON file a command reads (a bundle, a proof, a
 * request-signing policy, a configuration) was refused as "is not JSON", though it looks like JSON in any editor.
 * Review 159 found it for `credence verify`; the refusal now says what is wrong in the one reader they share.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readJsonFile } from '../adapters/runtime/bounded-files.ts';
import { readNamedJsonText } from '../domain/json-duplicate-names.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

const folder = temporaryFolders('credence-bom-');

describe('a JSON text starting with a UTF-8 byte-order mark', () => {
  it('is refused as starting with one, by name, from a file and from a pasted text alike', () => {
    const path = join(folder(), 'policy.json');
    writeFileSync(path, Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('{"require":"all"}')]));
    const read = readJsonFile(path, 4096);
    expect(read).toEqual({ ok: false, kind: 'content', message: `${path} starts with a UTF-8 byte-order mark, which JSON does not allow (RFC 8259 8.1): save it without one` });
    expect(readNamedJsonText('the policy', '\uFEFF{}')).toEqual({
      ok: false,
      message: 'the policy starts with a UTF-8 byte-order mark, which JSON does not allow (RFC 8259 8.1): save it without one',
    });
  });

  it('is read as before without one, and text that is not JSON is still said to be not JSON', () => {
    expect(readNamedJsonText('the policy', '{"require":"all"}')).toEqual({ ok: true, value: { require: 'all' } });
    expect(readNamedJsonText('the policy', 'require: all')).toEqual({ ok: false, message: 'the policy is not JSON' });
  });
});
