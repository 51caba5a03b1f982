import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { loadServiceConfig } from '../adapters/http/config.ts';
import { main } from '../bin/cli.ts';
import { isCredenceError } from '../domain/errors.ts';
import { duplicateNameIssue } from '../domain/json-duplicate-names.ts';
import { capture } from './support/cli.ts';
import { useTestService } from './support/service.ts';

/*
 * JSON.parse keeps the last of two members with one name, other parsers the first: a body such as
 * {"nodeId":"a","nodeId":"b"} meant one node here and another to a proxy, an auditor's tool or a signer's library.
 * I-JSON (RFC 7493 2.3) forbids it; every boundary that reads JSON text now refuses it, naming the member.
 */
const registration = (nodeIds: readonly string[]) =>
  `{"type":"registerNode","data":{${nodeIds.map((id) => `"nodeId":"${id}"`).join(',')},"profile":{"class":"smart-meter","manufacturer":"Acme","model":"SM-1","capabilities":[]}}}`;

describe('a member name given twice in one object', () => {
  it('is found wherever it is, with its path, and names are compared as parsed', () => {
    const issue = (text: string) => {
      JSON.parse(text); // every case is JSON that JSON.parse accepts
      return duplicateNameIssue(text);
    };
    expect(issue('{"a":1,"a":2}')).toEqual({ path: 'a', rule: 'duplicate_name', message: expect.stringContaining('RFC 7493') });
    expect(issue('{"a":1,"\\u0061":2}')?.path).toBe('a');
    expect(issue('{"a":{"b":[1,{"c":1,"d":"\\"c\\",","c":3}]}}')?.path).toBe('a.b.1.c');
    expect(issue('{"a\\\\":1,"b":"\\\\","a\\\\":2}')?.path).toBe('a\\');
    expect(issue('{"a":[],"a":{}}')?.path).toBe('a');
    expect(issue(`{"${'k'.repeat(100)}":1,"${'k'.repeat(100)}":2}`)?.path).toBe(`${'k'.repeat(64)}…`);
    // The same name in two objects, in strings, or in an array's elements is not a repeat.
    expect(issue('{"a":{"x":1},"b":{"x":1}}')).toBeUndefined();
    expect(issue('[{"a":1},{"a":1}]')).toBeUndefined();
    expect(issue('{"a":"{\\"a\\":1}","b":"a,\\"a\\":2"}')).toBeUndefined();
    expect(issue('"a"')).toBeUndefined();
    // The empty name is named as such, not as the whole body.
    expect(issue('{"":1,"":2}')?.path).toBe('""');
    // Nesting JSON.parse takes is walked without recursion.
    expect(issue(`${'['.repeat(200_000)}{"a":1,"a":2}${']'.repeat(200_000)}`)?.path).toBe(`${Array.from({ length: 200_000 }, () => '0').join('.')}.a`);
  });

  // A hang guard, not a speed claim: the scan searched for the next quote and backslash again after every escape, so a
  // string of escapes took time quadratic in its length (review 20: a 1 MiB body blocked the event loop for 3 s, 4 MiB
  // took 65 s). A scan that blocks cannot be timed out in this thread, so a child process runs it on 8 MiB of escapes
  // (hours, quadratic) and on a million short strings before one far backslash, and is given a minute for both.
  it('reads each string once, however many escapes it holds or however far the next backslash is', () => {
    const scanner = fileURLToPath(new URL('../domain/json-duplicate-names.ts', import.meta.url));
    const script = `
      import { duplicateNameIssue } from ${JSON.stringify(scanner)};
      const escapes = '{"a":"' + '\\\\n'.repeat(4 * 1024 * 1024) + '","a":1}';
      const farBackslash = '[' + '"x",'.repeat(1_000_000) + '"\\\\n"]';
      JSON.parse(escapes);
      JSON.parse(farBackslash);
      process.stdout.write(JSON.stringify([duplicateNameIssue(escapes)?.path, duplicateNameIssue(farBackslash) ?? null]));
    `;
    const child = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 60_000 });
    expect(child.signal, 'the scan did not end within a minute').toBeNull();
    expect([child.stderr, child.stdout]).toEqual(['', '["a",null]']);
  });

  describe('in an HTTP body', () => {
    const svc = useTestService();
    it('is 400 naming the member, and nothing is written', async () => {
      const head = await svc.service.context.credence.store.headPosition();
      const response = await fetch(`${svc.url}/v1/commands`, {
        method: 'POST',
        headers: { authorization: `Bearer ${svc.tokens.operator}`, 'content-type': 'application/json' },
        body: registration(['twice-a', 'twice-b']),
      });
      expect(response.status).toBe(400);
      expect(((await response.json()) as { errors: unknown[] }).errors).toEqual([expect.objectContaining({ path: 'body.data.nodeId', rule: 'duplicate_name' })]);
      expect(await svc.service.context.credence.store.headPosition()).toBe(head);
    });

    it('in a CLI argument or file is refused before anything is sent (exit 2), naming the flag and the member', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'credence-duplicate-names-'));
      try {
        const file = join(dir, 'data.json');
        const data = JSON.stringify(JSON.parse(registration(['x'])).data).replace('"nodeId":"x"', '"nodeId":"cli-a","nodeId":"cli-b"');
        writeFileSync(file, data);
        const head = await svc.service.context.credence.store.headPosition();
        for (const given of [data, `@${file}`]) {
          const c = capture();
          const code = await main(['command', 'registerNode', '--data', given], { ...c.io, env: { CREDENCE_URL: svc.url, CREDENCE_TOKEN: svc.tokens.operator } });
          expect([code, c.err.join('\n')]).toEqual([2, expect.stringMatching(/--data: .*nodeId: names a member its object names already/)]);
        }
        expect(await svc.service.context.credence.store.headPosition()).toBe(head);
        // The same data with the name once is sent and recorded.
        const c = capture();
        const code = await main(['command', 'registerNode', '--data', data.replace('"nodeId":"cli-a",', '')], { ...c.io, env: { CREDENCE_URL: svc.url, CREDENCE_TOKEN: svc.tokens.operator } });
        expect([code, c.err.join('\n')]).toEqual([0, '']);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });

  describe('in the service configuration file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'credence-duplicate-config-'));
    afterAll(() => rmSync(dir, { recursive: true, force: true }));
    it('is a validation error naming the file and the setting', () => {
      const file = join(dir, 'credence.json');
      writeFileSync(file, '{"port":8123,"limits":{"bodyLimitBytes":1000,"bodyLimitBytes":2000000}}');
      let thrown: unknown;
      try {
        loadServiceConfig({ file });
      } catch (error) {
        thrown = error;
      }
      expect(isCredenceError(thrown, 'validation') && thrown.problem).toMatchObject({ issues: [{ path: `file ${file}: limits.bodyLimitBytes`, rule: 'duplicate_name' }] });
      writeFileSync(file, '{"port":8123,"limits":{"bodyLimitBytes":2000000}}');
      expect(loadServiceConfig({ file }).limits.bodyLimitBytes).toBe(2_000_000);
    });
  });
});
