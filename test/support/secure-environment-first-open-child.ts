/**
 * A process that opens the embedded Secure Environment of data folders (default layout), one per line on stdin
 * (`{"dir":…,"at":…}`), each at `at` (ms since the epoch) so that several processes open a new folder together
 * (test/secure-environment-first-open-race.test.ts); then generates an Ed25519 key, signs with it and closes.
 * Prints `READY` once loaded, then for each folder `OK` or `ERR <json>` (the error's code, problem and message).
 */
import { randomBytes } from 'node:crypto';
import { createInterface } from 'node:readline';
import { EmbeddedSecureEnvironment, secureEnvironmentConfigForDataDir } from '../../adapters/driven/secure-environment/index.ts';

const random = (length: number) => new Uint8Array(randomBytes(length));

const openAndSign = async (dir: string): Promise<string> => {
  try {
    const se = EmbeddedSecureEnvironment.open(secureEnvironmentConfigForDataDir(dir), { now: () => new Date(), random });
    try {
      const handle = await se.generate('node:race', 'ed25519');
      await se.sign('node:race', handle, new TextEncoder().encode('race'));
    } finally {
      se.close();
    }
    return 'OK';
  } catch (error) {
    const { code, problem } = error as { code?: unknown; problem?: unknown };
    return `ERR ${JSON.stringify({ code, problem, message: (error as Error).message })}`;
  }
};

process.stdout.write('READY\n');
for await (const line of createInterface({ input: process.stdin })) {
  const { dir, at } = JSON.parse(line) as { dir: string; at: number };
  while (Date.now() < at) {
    // spin: a timer would let the processes drift apart by a scheduler tick
  }
  process.stdout.write(`${await openAndSign(dir)}\n`);
}
