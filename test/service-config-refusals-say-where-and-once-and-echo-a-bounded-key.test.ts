/**
 * Review 373 item 4: a config file with a JSON syntax error said only "is not valid JSON", not where; a `store` over
 * 4,096 characters got two issues, one in zod's words ("Too big: expected string to have <=4096 characters"); a
 * 60 KB unknown key was echoed whole; and `checkpointWitness` took ESC and C1 controls, which every other path setting
 * refuses. Each is now said once, where, bounded, and refused as the others are.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadServiceConfig } from '../adapters/http/config.ts';
import { isCredenceError } from '../domain/errors.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

const folder = temporaryFolders('credence-config-said-once-');

const refusalOf = (load: () => unknown): { path: string; rule: string; message: string }[] => {
  try {
    load();
  } catch (error) {
    if (isCredenceError(error, 'validation') && error.problem.code === 'validation') return error.problem.issues.map(({ path, rule, message }) => ({ path, rule, message }));
    throw error;
  }
  throw new Error('expected a refusal');
};

const fileIssues = (text: string): { path: string; rule: string; message: string }[] => {
  const file = join(folder(), 'credence.json');
  writeFileSync(file, text);
  return refusalOf(() => loadServiceConfig({ file })).map((i) => ({ ...i, path: i.path.replace(file, 'F') }));
};

describe('a config file that is not valid JSON', () => {
  it.each([
    ['a missing comma', '{\n  "port": 8081\n  "host": "127.0.0.1"\n}', 3, 3, "expected ',' or '}'"],
    ['a bare word', '{\n  "host": localhost\n}', 2, 11, 'expected a value'],
    ['a trailing comma', '{\n  "port": 8081,\n}', 3, 1, 'expected a property name in double quotes'],
    ['a name not in double quotes', "{'port': 8081}", 1, 2, 'expected a property name in double quotes'],
    ['a line break in a string', '{\n  "data": "/srv/cre\ndence"\n}', 2, 20, 'control character'],
    ['its end cut off', '{\n  "port": 8081,\n  "host": "127.0', 3, 11, 'string'],
    ['nothing in it', '', 1, 1, 'ends before'],
    ['more after the value', '{"port": 8081}\n}', 2, 1, 'nothing more'],
    ['a column counted in characters, not UTF-16 units', '{"data": "/srv/\u{1F600}", x}', 1, 20, 'expected a property name in double quotes'],
  ])('%s is refused at its line and column, quoting none of the text', (_what, text, line, column, why) => {
    const [issue, ...more] = fileIssues(text);
    expect(more).toEqual([]);
    expect(issue).toMatchObject({ path: 'file F', rule: 'json' });
    expect(issue!.message).toContain(`is not valid JSON: line ${line}, column ${column}: `);
    expect(issue!.message).toContain(why);
    for (const quoted of ['localhost', '8081', '127.0', 'port', 'cre']) expect(issue!.message).not.toContain(quoted);
  });
});

describe('a store connection string over 4,096 characters', () => {
  it('is one issue, in our words', () => {
    const store = `esdb://localhost:2113?tls=false&${'a'.repeat(4_100)}=1`;
    expect(fileIssues(JSON.stringify({ store }))).toEqual([{ path: 'file F: store', rule: 'too_big', message: 'must be at most 4096 characters' }]);
    expect(refusalOf(() => loadServiceConfig({ env: { CREDENCE_STORE: store } }))).toEqual([{ path: 'env CREDENCE_STORE', rule: 'too_big', message: 'must be at most 4096 characters' }]);
  });
});

describe('an unknown config key', () => {
  it('of 60 KB is echoed bounded, with its length', () => {
    const key = 'k'.repeat(60_000);
    const issues = fileIssues(JSON.stringify({ [key]: 1 }));
    expect(issues).toEqual([{ path: `file F: ${'k'.repeat(64)}… (60000 characters)`, rule: 'unrecognized_keys', message: 'unknown setting' }]);
  });

  it('nested under limits is bounded the same, and a short one named whole as before', () => {
    const key = 'x'.repeat(500);
    const issues = fileIssues(JSON.stringify({ limits: { [key]: 1 }, prot: 1 }));
    expect(issues.map((i) => i.path).sort()).toEqual([`file F: limits.${'x'.repeat(64)}… (500 characters)`, 'file F: prot']);
  });
});

describe('checkpointWitness', () => {
  it.each([
    ['ESC', '/var/lib/credence-witness/\u001b[31mcheckpoint'],
    ['a C1 control (NEL)', '/var/lib/credence-witness/\u0085checkpoint'],
    ['DEL', '/var/lib/credence-witness/\u007fcheckpoint'],
    ['a tab', '/var/lib/credence-witness/\tcheckpoint'],
  ])('holding %s is refused as every path setting refuses a control character', (_what, checkpointWitness) => {
    const witness = fileIssues(JSON.stringify({ checkpointWitness }));
    const data = fileIssues(JSON.stringify({ data: checkpointWitness }));
    expect(witness).toEqual([{ path: 'file F: checkpointWitness', rule: 'custom', message: data[0]!.message }]);
    expect(data[0]!.message).toBe('must not hold control characters (NUL, a line break, an escape)');
  });
});
