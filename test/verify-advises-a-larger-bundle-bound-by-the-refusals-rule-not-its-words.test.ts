import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { readJsonFile as readJsonFileItself } from '../adapters/runtime/bounded-files.ts';
import { readBundleFile } from '../bin/commands/verify-inputs.ts';
import { readJsonFile, type FileRead } from '../bin/files.ts';
import { readNamedJsonText } from '../domain/json-duplicate-names.ts';
import { DEFAULT_JSON_LIMITS } from '../domain/json-limits.ts';
import { tempDirs } from './transparency-fixtures.ts';

/*
 * Review 451 (L1): `readBundleFile` told a dense bundle's refusal from any other by its words, `message.endsWith("more
 * than N JSON values")`: a change of wording in the JSON reader would silently have changed which advice
 * (`--max-bundle-mib`) the CLI gives. The reader now names the rule that refused the text (`max_values`, as the
 * problem documents do), and the advice follows that rule alone.
 *
 * Review 459 (L2): at --max-bundle-mib 512, the most, the advice still said "give a larger --max-bundle-mib", which
 * does not exist: it now says no --max-bundle-mib reads the bundle and points to `credence verify --data`, as a
 * bundle too large in bytes for any bound is told.
 */

vi.mock('../bin/files.ts', async (importOriginal) => {
  const original = await importOriginal<typeof import('../bin/files.ts')>();
  return { ...original, readJsonFile: vi.fn(original.readJsonFile) };
});

const dirs = tempDirs();
afterEach(() => dirs.cleanup());

const reader = vi.mocked(readJsonFile);
beforeEach(() => reader.mockReset());
afterEach(() => vi.restoreAllMocks());

const file = (text: string): string => {
  const path = join(dirs.make(), 'bundle.json');
  writeFileSync(path, text);
  return path;
};

/** The bundle reader's answer when the JSON reader refuses with `refusal`. */
const bundleReadOf = (refusal: FileRead<unknown>): FileRead<unknown> => {
  reader.mockReturnValue(refusal);
  return readBundleFile('bundle.json', 64);
};

const ADVICE = 'what --max-bundle-mib 64 allows: give a larger --max-bundle-mib (512 allows 16000000)';

describe('the JSON reader names the rule that refused a text', () => {
  it('names max_values for a text of too many values, duplicate_name for a name given twice, none for a text that is not JSON', () => {
    const limits = { ...DEFAULT_JSON_LIMITS, maxValues: 5 };
    expect(readJsonFileItself(file('[1,2,3,4,5,6,7]'), 1024, limits)).toMatchObject({ ok: false, kind: 'content', rule: 'max_values' });
    expect(readJsonFileItself(file('{"a":1,"a":2}'), 1024)).toMatchObject({ ok: false, kind: 'content', rule: 'duplicate_name' });
    const notJson = readJsonFileItself(file('{"a":'), 1024);
    expect(notJson).toMatchObject({ ok: false, kind: 'content' });
    expect(notJson).not.toHaveProperty('rule');
    expect(readNamedJsonText('the bundle', '[1,2,3,4,5,6,7]', limits)).toEqual({ ok: false, rule: 'max_values', message: 'the bundle: (root): more than 5 JSON values' });
  });
});

describe('credence verify FILE.json advises a larger --max-bundle-mib by the refusal\'s rule, not its words', () => {
  it('advises it for a max_values refusal, whatever its words', () => {
    const read = bundleReadOf({ ok: false, kind: 'content', rule: 'max_values', message: 'bundle.json: events: holds over two million values' });
    expect(read).toEqual({ ok: false, kind: 'content', message: `bundle.json: events: holds over two million values, ${ADVICE}` });
  });

  it('does not advise it for a refusal of another rule whose words happen to end as a max_values one does', () => {
    const refusal: FileRead<unknown> = { ok: false, kind: 'content', rule: 'duplicate_name', message: 'bundle.json: events: more than 2000000 JSON values' };
    expect(bundleReadOf(refusal)).toEqual(refusal);
  });

  it('advises it for a genuinely dense bundle read by the real reader', () => {
    reader.mockImplementation((path, _max, limits, rules) => readJsonFileItself(path, 1024 * 1024, { ...limits!, maxValues: 3 }, rules));
    const read = readBundleFile(file('[1,2,3,4]'), 64);
    expect(read.ok).toBe(false);
    expect(!read.ok && read.message).toMatch(/: \(root\): more than 3 JSON values, what --max-bundle-mib 64 allows: give a larger --max-bundle-mib \(512 allows 16000000\)$/);
  });

  it('at the largest --max-bundle-mib, says none reads it and points to credence verify --data, advising no larger one', () => {
    reader.mockReturnValue({ ok: false, kind: 'content', rule: 'max_values', message: 'bundle.json: (root): more than 16000000 JSON values' });
    const read = readBundleFile('bundle.json', 512);
    expect(read).toEqual({
      ok: false,
      kind: 'content',
      message:
        'bundle.json: (root): more than 16000000 JSON values, what --max-bundle-mib 512, the largest, allows: no --max-bundle-mib reads it; ' +
        'audit the data folder itself with credence verify --data',
    });
    expect(!read.ok && read.message).not.toMatch(/give a larger/);
  });

  it('says so for a dense bundle the real reader refuses at the largest bound', () => {
    reader.mockImplementation((path, _max, limits, rules) => readJsonFileItself(path, 1024 * 1024, { ...limits!, maxValues: 3 }, rules));
    const read = readBundleFile(file('[1,2,3,4]'), 512);
    expect(!read.ok && read.message).toMatch(/: \(root\): more than 3 JSON values, what --max-bundle-mib 512, the largest, allows: no --max-bundle-mib reads it; audit the data folder itself with credence verify --data$/);
  });
});
