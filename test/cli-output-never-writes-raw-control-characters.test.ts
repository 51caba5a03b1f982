/**
 * Found in review: text the operator (or a file) gave reached the terminal raw, bypassing `printable`: a signing
 * policy's unknown key in `--signing: Unrecognized key: "…"`, an unresolvable --host / CREDENCE_HOST, commander's own
 * errors quoting what was typed, and serve's settings (CREDENCE_DATA with a line break and ESC; a NUL in a config
 * file's `data` failed in Node naming no field). Each is now shown escaped, or refused naming its field and source.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { EXIT, runAction } from '../bin/program.ts';
import { capture, runCli } from './support/cli.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

const folder = temporaryFolders('credence-controls-');
/** OSC retitle, erase the line, return, and a fake verdict: what the review planted. */
const EVIL = '\u001b]0;PWNED\u0007\u001b[2K\rok: all good';
const RAW_CONTROL = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/;

const expectNoRawControl = (text: string): void => {
  expect(text).not.toMatch(RAW_CONTROL);
};

describe('the CLI never writes a raw control character', () => {
  it('a --signing policy with an unknown key holding escapes: shown escaped (query, exit 2)', async () => {
    const dir = folder();
    const policy = join(dir, 'signing.json');
    writeFileSync(policy, JSON.stringify({ keys: [], [EVIL]: 1 }));
    const r = await runCli(['query', 'actions', '--actor', 'a', '--data', join(dir, 'data'), '--signing', policy]);
    expect(r.code).toBe(EXIT.usage);
    expectNoRawControl(r.err);
    expect(r.err).toContain('--signing: ');
    expect(r.err).toContain('\\u001b]0;PWNED\\u0007');
  });

  it("commander's own error quoting an unknown command: shown escaped", async () => {
    const r = await runCli([`x${EVIL}`]);
    expect(r.code).toBe(EXIT.usage);
    expectNoRawControl(r.err);
    expect(r.err).toContain("unknown command 'x\\u001b]0;PWNED\\u0007");
  });

  it('a host that does not resolve is named escaped (exit 2)', async () => {
    const c = capture();
    const unresolved = Object.assign(new Error('getaddrinfo ENOTFOUND'), { syscall: 'getaddrinfo', code: 'ENOTFOUND', hostname: `h${EVIL}` });
    expect(await runAction(c.io, () => Promise.reject(unresolved))).toBe(EXIT.usage);
    const err = c.err.join('\n');
    expectNoRawControl(err);
    expect(err).toMatch(/^error: --host: h\\u001b\]0;PWNED\\u0007.* does not resolve/);
  });

  // Each with a bad --port too: a serve that took the setting stops at the port rather than starting.
  it.each([
    ['env CREDENCE_HOST', { CREDENCE_HOST: `h${EVIL}` }, []],
    ['env CREDENCE_DATA', { CREDENCE_DATA: `/tmp/a\n${EVIL}` }, []],
    ['flag --data', {}, ['--data', `/tmp/a${EVIL}`]],
    ['flag --store', {}, ['--store', `sqlite:/tmp/a${EVIL}`]],
    ['flag --signing', {}, ['--signing', `/tmp/a${EVIL}`]],
  ] as const)('serve refuses control characters in %s, naming it (exit 2)', async (source, env, args) => {
    const { main } = await import('../bin/cli.ts');
    const c = capture();
    expect(await main(['serve', ...args, '--port', '99999'], { ...c.io, env })).toBe(EXIT.usage);
    const err = c.err.join('\n');
    expectNoRawControl(err);
    expect(err).toContain(`error: ${source}: must not hold control characters`);
  });

  it('serve refuses a NUL in a config file\'s data folder, naming the file and the field (exit 2)', async () => {
    const config = join(folder(), 'credence.json');
    writeFileSync(config, '{"data":"/x\\u0000y"}');
    const r = await runCli(['serve', '--config', config, '--port', '99999']);
    expect(r.code).toBe(EXIT.usage);
    expect(r.err).toContain(`error: file ${config}: data: must not hold control characters`);
  });
});
