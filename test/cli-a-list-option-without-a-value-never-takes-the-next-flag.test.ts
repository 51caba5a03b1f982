/**
 * Review 245 item 1: the review-186 check (a value given as its own word that looks like an option is refused) passed
 * over options that take lists, so `node register meter-4 … --capability --json` exited 0, printed text and recorded
 * the capability "--json" for good; `… --capability --server URL` was refused for the wrong reason (`--server:
 * required`). The first word after each `--capability` is now judged as any option's value: refused (exit 2) naming
 * the option and the `=` form, and nothing is recorded. Capabilities as they are named (never with a leading dash) are
 * taken as before, several after one flag or one after each.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../bin/cli.ts';
import { capture, runCli } from './support/cli.ts';
import { startTestService, type TestService } from './support/service.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

const scratch = temporaryFolders('credence-list-option-');
const refusal = (flag: string, value: string) =>
  `error: ${flag}: ${value} looks like an option (was the value left out?); write ${flag}=${value} for a value that really starts with -`;

describe('a list option given a word that looks like an option', () => {
  let svc: TestService;
  const cli = async (argv: string[]) => {
    const c = capture();
    const code = await main(argv, { ...c.io, env: { CREDENCE_URL: svc.url, CREDENCE_TOKEN: svc.tokens.operator } });
    return { code, out: c.out.join('\n'), err: c.err.join('\n') };
  };
  const stream = (id: string) => svc.service.context.credence.store.readStream(id);
  const profile = ['--class', 'device', '--manufacturer', 'Acme', '--model', 'M'];

  beforeAll(async () => {
    svc = await startTestService();
  });
  afterAll(async () => {
    await svc?.close();
  });

  it('node register --capability --json: refused (exit 2) naming --capability, nothing recorded', async () => {
    const r = await cli(['node', 'register', 'meter-4', ...profile, '--capability', '--json']);
    expect(r.code, r.err).toBe(2);
    expect(r.out).toBe('');
    expect(r.err).toContain(refusal('--capability', '--json'));
    expect(await stream('node-meter-4')).toEqual([]);
  });

  it('node register --capability --server URL: refused naming --capability, the word it took', async () => {
    const c = capture();
    const code = await main(['node', 'register', 'meter-5', ...profile, '--capability', '--server', svc.url], { ...c.io, env: { CREDENCE_TOKEN: svc.tokens.operator } });
    expect(code, c.err.join('\n')).toBe(2);
    expect(c.err.join('\n')).toContain(refusal('--capability', '--server'));
    expect(await stream('node-meter-5')).toEqual([]);
  });

  it('a second --capability without its value is refused too', async () => {
    const r = await cli(['node', 'register', 'meter-6', ...profile, '--capability', 'metering', '--capability', '--json']);
    expect(r.code, r.err).toBe(2);
    expect(r.err).toContain(refusal('--capability', '--json'));
    expect(await stream('node-meter-6')).toEqual([]);
  });

  it('capabilities named as they are are taken: several after one flag, one after each', async () => {
    const a = await cli(['node', 'register', 'meter-7', ...profile, '--capability', 'metering', 'relay', '--json']);
    expect(a.code, a.err).toBe(0);
    expect(JSON.parse(a.out).events[0].data.profile.capabilities).toEqual(['metering', 'relay']);
    const b = await cli(['node', 'register', 'meter-8', ...profile, '--capability', 'metering', '--capability', 'relay', '--json']);
    expect(b.code, b.err).toBe(0);
    expect(JSON.parse(b.out).events[0].data.profile.capabilities).toEqual(['metering', 'relay']);
  });

  it('device init --capability --json: refused (exit 2) naming --capability before any key is made', async () => {
    const r = await runCli(['device', 'init', '--dir', join(scratch(), 'dev'), '--node-id', 'meter-9', '--kind', 'ed25519', '--server', 'http://127.0.0.1:1', '--token', 'x', '--capability', '--json']);
    expect(r.code, r.err).toBe(2);
    expect(r.err).toContain(refusal('--capability', '--json'));
  });
});
