import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { register as demo } from '../bin/commands/demo-command.ts';
import { register as device } from '../bin/commands/device.ts';
import { runCommands } from '../bin/program.ts';
import { capture } from './support/cli.ts';
import { tempDirs } from './support/temp-dirs.ts';

// Found in review: `credence demo` (any free port) ended with "or npm start -- --data ./demo1 to serve it"; doing
// exactly that served on 8080 and warned that the certificates name the demo's port. The hint now gives that port.

const folders = tempDirs('credence-demo-next-');
afterAll(folders.cleanup);

/** The port of the CRL URL a device's certificate names, as `credence device certificate` prints it. */
const crlPortOf = async (dir: string): Promise<string> => {
  const c = capture();
  expect(await runCommands([device], ['device', 'certificate', '--dir', dir, '--credential', 'gateway-1-service'], c.io), c.err.join('\n')).toBe(0);
  const cdp = new x509.X509Certificate(c.out.join('\n')).getExtension(x509.CRLDistributionPointsExtension);
  const crl = cdp?.distributionPoints[0]?.distributionPoint?.fullName?.find((n) => n.uniformResourceIdentifier !== undefined)?.uniformResourceIdentifier;
  expect(crl).toBeDefined();
  return new URL(crl!).port;
};

describe('credence demo on any free port', () => {
  it('ends with an npm start that names the port its certificates name', async () => {
    const data = join(folders.make(), 'demo1');
    const run = capture();
    const code = await runCommands([demo], ['demo', '--data', data], { ...run.io, env: {} });
    expect(code, run.err.join('\n')).toBe(0);
    const next = run.out.find((l) => l.startsWith('Next: '));
    const port = await crlPortOf(join(data, 'devices', 'gateway-1'));
    expect(next).toContain(`or npm start -- --data ${data} --port ${port} to serve it.`);
  }, 120_000);
});
