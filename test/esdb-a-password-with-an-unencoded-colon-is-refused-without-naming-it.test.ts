/**
 * Review 421: the EventStoreDB client cuts a password at its first unencoded `:` (`esdb://ad:min:pa:ss@…` is read as
 * password "min"), and the store setting took the string without a word: the service then ran with credentials the
 * operator never wrote. The password the client parsed is compared with the one written: when they differ, the setting
 * is refused saying to percent-encode `:`, naming no part of the password.
 */
import { describe, expect, it } from 'vitest';
import { isCredenceError } from '../domain/errors.ts';
import { parseStoreConnectionString } from '../adapters/driven/store/open-store.ts';
import { connectionStringProblems } from '../adapters/driven/store/eventstoredb/index.ts';

const SAID = /percent-encode `:` in the password/;

describe('an EventStoreDB connection string whose password holds an unencoded colon', () => {
  it('is refused where the setting is parsed, saying to percent-encode it', () => {
    expect(connectionStringProblems('esdb://ad:min:pa:ss@localhost:2113')).toEqual([expect.stringMatching(SAID)]);
    expect(connectionStringProblems('kurrentdb+discover://admin:Zq7x:@cluster.example?tls=false')).toEqual([expect.stringMatching(SAID)]);
  });

  it('names no part of the password, in the problem or the setting’s refusal', () => {
    const parts = ['Zq7xK', 'Wv3yJ', 'Rt8uL'];
    const value = `esdb://admin:${parts.join(':')}@127.0.0.1:2113?tls=false`;
    const problems = connectionStringProblems(value);
    expect(problems).toEqual([expect.stringMatching(SAID)]);
    let error: unknown;
    try {
      parseStoreConnectionString(value, '--store');
    } catch (e) {
      error = e;
    }
    expect(isCredenceError(error, 'validation'), String(error)).toBe(true);
    const said = `${problems.join('\n')}\n${(error as Error).message}\n${JSON.stringify((error as { problem?: unknown }).problem)}`;
    expect(said).toMatch(SAID);
    for (const part of [...parts, parts.join(':')]) expect(said).not.toContain(part);
  });

  it.each([
    ['an encoded colon', 'esdb://admin:p%3Ass@localhost:2113'],
    ['`/ ? #` and an encoded `@`', 'esdb://admin:pa/s?s#w%40rd@localhost:2113?tls=false'],
    ['an encoded `%`', 'esdb://admin:p%25s@localhost'],
    ['no user info', 'esdb://localhost:2113?tls=false'],
  ])('is accepted with %s', (_, value) => {
    expect(connectionStringProblems(value)).toEqual([]);
  });
});
