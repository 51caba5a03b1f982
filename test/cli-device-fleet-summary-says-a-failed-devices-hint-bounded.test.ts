import { describe, expect, it } from 'vitest';
import { HINT_MAX } from '../bin/commands/device/fleet.ts';
import { deviceCli } from './support/device-cli.ts';
import { provisioningDevices } from './support/provisioning-device.ts';
import { answerWith, forwarded, standInProxy } from './support/stand-in-proxy.ts';

// Found in review: `device fleet` summed up a failed device as its problem's status, title and detail only, while the
// single-device commands print the problem's `hint` too (what the failure leaves and what settles it: a receipt the
// server failed leaves a key pending). Each failed device's summary line now carries its hint, cut to a bound: a
// server's hint may be as long as the message limits allow, and a fleet's summary is read line by line.

const { url, operator } = provisioningDevices('sub-fleet-hint');

const RECEIPT = '/v1/enrolment/receipt';
const LONG_HINT = `ask the operator ${'x'.repeat(5_000)}`;

/**
 * A stand-in that fails the receipt of device zzh-1 (500: the device's own hint says the outcome is unknown) and
 * refuses zzh-2's enrolment with a problem whose hint is 5,000 characters long; the rest is forwarded.
 */
const failing = () => {
  let receipts = 0;
  return standInProxy(async (req, res, body) => {
    if (req.url === RECEIPT && ++receipts === 1) {
      const problem = { type: 'https://credence.dev/problems/internal', title: 'Internal Server Error', status: 500, detail: 'Internal Server Error' };
      return res.writeHead(500, { 'content-type': 'application/problem+json' }).end(JSON.stringify(problem));
    }
    const text = body.toString('utf8');
    if (req.url === '/v1/commands' && text.includes('"enrolNode"') && text.includes('"zzh-2"')) {
      const problem = { type: 'https://credence.dev/problems/conflict', title: 'Conflict', status: 409, detail: 'not now', hint: LONG_HINT };
      return res.writeHead(409, { 'content-type': 'application/problem+json' }).end(JSON.stringify(problem));
    }
    return answerWith(res, await forwarded(url(), req, body));
  });
};

describe('credence device fleet, summing up the devices that failed', () => {
  it('gives each failed device its problem\'s hint on its line, cut to a bound', async () => {
    const proxy = await failing();
    let run: { code: number; output: string };
    try {
      run = await deviceCli(['fleet', '--count', '3', '--concurrency', '1', '--prefix', 'zzh', '--server', proxy.url, '--token', operator().token]);
    } finally {
      await proxy.close();
    }
    expect(run.code, run.output).toBe(1);
    const lines = run.output.split('\n');
    const first = lines.find((l) => l.startsWith('  zzh-1 at provision:'));
    expect(first, run.output).toBeDefined();
    expect(first).toContain('500 Internal Server Error');
    expect(first).toContain('hint: the server failed (500) answering the receipt of credential zzh-1-service');
    const second = lines.find((l) => l.startsWith('  zzh-2 at enrol:'));
    expect(second, run.output).toBeDefined();
    expect(second).toContain('409 Conflict: not now; hint: ask the operator xxx');
    expect(second!.endsWith('…')).toBe(true);
    expect(second!.length).toBeLessThan(200 + HINT_MAX);
    expect(lines.some((l) => l.startsWith('  zzh-3 at'))).toBe(false);
  }, 120_000);
});
