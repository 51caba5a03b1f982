import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { register as demo } from '../bin/commands/demo-command.ts';
import { register as device } from '../bin/commands/device.ts';
import { runCommands } from '../bin/program.ts';
import { capture } from './support/cli.ts';
import { tempDirs } from './support/temp-dirs.ts';

// Found in review: `credence demo` (any free port) ended with "or npm start -- --data ./demo1 to serve it"; doing
// exactly that served on 8080 and warned that the certificates name the demo's port. The hint now gives that port.
// Found in the review of that fix: run again on the folder (another free port), the start warned that the certificates
// name the first port, and the hint then gave the second: it now gives the port the certificates name.

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

/** A port free right now (listened on and let go), to run the demo again on a port surely not the first one's. */
const freePort = async (): Promise<number> => {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
};

describe('credence demo on any free port', () => {
  const data = join(folders.make(), 'demo1');

  it('ends with an npm start that names the port its certificates name', async () => {
    const run = capture();
    const code = await runCommands([demo], ['demo', '--data', data], { ...run.io, env: {} });
    expect(code, run.err.join('\n')).toBe(0);
    const port = await crlPortOf(join(data, 'devices', 'gateway-1'));
    // Review 173: each next command whole, on a line of its own, with the folder it ran on.
    for (const command of [`npx credence replay --data ${data}`, `npx credence history node-meter-3 --data ${data}`, `npx credence verify --data ${data}`]) {
      expect(run.out).toContain(`  ${command}`);
    }
    expect(run.out).toContain(`  npm start -- --data ${data} --port ${port}`);
  }, 120_000);

  it('run again on that folder at another port, ends with an npm start that names the port its certificates name, not its own', async () => {
    const named = await crlPortOf(join(data, 'devices', 'gateway-1'));
    const other = String(await freePort());
    expect(other).not.toBe(named);
    const run = capture();
    const code = await runCommands([demo], ['demo', '--data', data, '--port', other], { ...run.io, env: {} });
    expect(code, run.err.join('\n')).toBe(0);
    expect(run.out).toContain(`The store in ${data} already holds events: no demo this time, only where its fleet stands (delete the folder to run the demo again).`);
    expect(run.out).toContain(`  npm start -- --data ${data} --port ${named}`);
  }, 60_000);
});
