import { describe, expect, it } from 'vitest';
import { parseStoreConnectionString } from '../adapters/driven/store/index.ts';
import { isCredenceError } from '../domain/errors.ts';

/*
 * Review 236: `serve --store 'sqlite:/tmp/x/q2?durabilty=normal'` started, on a new folder named `q2?durabilty=normal`:
 * a misspelt option became part of the folder name. After `sqlite:<folder>` only `?durability=…` is read, and a `?`
 * anywhere else is refused, naming the key.
 */
const issuesOf = (value: string): { path: string; rule: string; message: string }[] => {
  try {
    parseStoreConnectionString(value);
  } catch (error) {
    if (isCredenceError(error, 'validation') && error.problem.code === 'validation') return [...error.problem.issues] as never;
    throw error;
  }
  return [];
};

describe('a sqlite: store connection string', () => {
  it('refuses an option other than durability, naming it and the known one (rule unknown_option)', () => {
    const issues = issuesOf('sqlite:/tmp/x/q2?durabilty=normal');
    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatchObject({ path: 'store', rule: 'unknown_option' });
    expect(issues[0]!.message).toContain('durabilty');
    expect(issues[0]!.message).toContain('durability');
  });

  it('refuses a folder path holding ?', () => {
    expect(issuesOf('sqlite:./odd?name')).toHaveLength(1);
    expect(issuesOf('sqlite:./a?b/c?durability=normal')).toHaveLength(1);
    expect(issuesOf('sqlite::memory:?cache=shared')[0]).toMatchObject({ rule: 'unknown_option' });
  });

  it('still reads ?durability=', () => {
    expect(parseStoreConnectionString('sqlite:./data?durability=normal')).toEqual({ kind: 'sqlite', dir: './data', durability: 'normal' });
    expect(parseStoreConnectionString('sqlite::memory:?durability=full')).toEqual({ kind: 'sqlite-memory', durability: 'full' });
  });
});
