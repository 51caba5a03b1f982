/**
 * Found in review, each already exit 2 but unclear: a config file nested too deep was refused without its `file X:`
 * source; a byte-order mark at its start gave only "is not valid JSON"; `"port": 1e400` (Infinity once parsed) said
 * `port: Invalid input`. Each refusal names the file, the field and the rule.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadServiceConfig } from '../adapters/http/config.ts';
import { isCredenceError } from '../domain/errors.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

const folder = temporaryFolders('credence-config-refusals-');

const issuesOf = (text: string): { path: string; rule: string; message: string }[] => {
  const file = join(folder(), 'credence.json');
  writeFileSync(file, text);
  try {
    loadServiceConfig({ file });
  } catch (error) {
    if (isCredenceError(error, 'validation') && error.problem.code === 'validation') {
      return error.problem.issues.map(({ path, rule, message }) => ({ path: path.replace(file, 'F'), rule, message }));
    }
    throw error;
  }
  throw new Error('expected a refusal');
};

describe('service configuration file refusals', () => {
  it('a file nested too deep is named with the path where it broke', () => {
    let nested: unknown = {};
    for (let i = 0; i < 40; i++) nested = { a: nested };
    const [issue] = issuesOf(JSON.stringify({ limits: nested }));
    expect(issue).toMatchObject({ path: expect.stringMatching(/^file F: limits(\.a)+$/), rule: 'max_depth', message: expect.stringMatching(/^nested deeper than/) });
  });

  it('a byte-order mark at the start is refused as such', () => {
    expect(issuesOf('\uFEFF{"port": 8081}')).toEqual([
      { path: 'file F', rule: 'byte_order_mark', message: expect.stringMatching(/^starts with a byte-order mark \(U\+FEFF\)/) },
    ]);
  });

  it('a number JSON reads as Infinity is refused naming the rule', () => {
    expect(issuesOf('{"port": 1e400}')).toEqual([{ path: 'file F: port', rule: 'invalid_union', message: 'a whole number in decimal digits, 0 to 65535' }]);
    expect(issuesOf('{"limits": {"bodyLimitBytes": -1e400}}')[0]).toMatchObject({ path: 'file F: limits.bodyLimitBytes', message: expect.stringMatching(/^a whole number in decimal digits, 1 to /) });
  });

  it('a whole number setting still takes a JSON number and decimal text', () => {
    const file = join(folder(), 'credence.json');
    writeFileSync(file, '{"port": 8081, "limits": {"bodyLimitBytes": 2048}}');
    expect(loadServiceConfig({ file, env: { CREDENCE_PROBE_PORT: '9090' } })).toMatchObject({ port: 8081, probePort: 9090, limits: { bodyLimitBytes: 2048 } });
  });
});
