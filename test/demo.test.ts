import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { main } from '../bin/cli.ts';
import { capture } from './support/cli.ts';

const dirs: string[] = [];
afterEach(() => dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));

const run = async (argv: string[]) => {
  const { io, out, err } = capture();
  return { code: await main(argv, io), out, err };
};

it('npm start runs the demo fleet once; its history replays clean and matches the signed log', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'credence-demo-'));
  dirs.push(dir);
  const first = await run(['demo', '--data', dir]);
  expect(first.code).toBe(0);
  const states = Object.fromEntries(first.out.filter((l) => /^[a-z]+-\S+\s+\S+$/.test(l)).map((l) => l.split(/\s+/)));
  expect(states).toMatchObject({
    'node-meter-3': 'revoked',
    'credential-meter-3-service': 'revoked',
    'association-meter-3-sa': 'revoked',
    'association-meter-2-sa': 'expired',
    'credential-meter-4-bootstrap': 'expired',
    'credential-meter-1-service': 'revoked',
    'credential-meter-1-service-r1': 'associated',
    'association-meter-1-sa-r1': 'associated',
    'node-gateway-1': 'associated',
  });
  const again = await run(['demo', '--data', dir]);
  expect(again.out[0]).toContain('already holds events');
  expect(again.out.filter((l) => /^[a-z]+-\S+\s+\S+$/.test(l))).toEqual(first.out.filter((l) => /^[a-z]+-\S+\s+\S+$/.test(l)));
  expect((await run(['replay', '--data', dir])).code).toBe(0);
  const verified = await run(['verify', '--data', dir]);
  expect(verified.code).toBe(0);
  expect(verified.out.join('\n')).toMatch(/^ok: (\d+) stored events match the transparency log/);
});
