/**
 * A process that tries the data folder's lock (test/data-folder-lock.test.ts): waits until `at` (ms since the
 * epoch) so that several start together, then prints `GOT` or `HELD <holder>` and keeps what it got until killed,
 * told to let go (SIGTERM: it releases what it got, as the end of `holdMs` does, and exits) or `holdMs` has passed.
 */
import { describeHolder, tryLockDataFolder } from '../../adapters/runtime/data-folder.ts';

const [dir, at, holdMs] = [process.argv[2]!, Number(process.argv[3] ?? 0), Number(process.argv[4] ?? 60_000)];
while (Date.now() < at) {
  // spin: a timer would let the children drift apart by a scheduler tick
}
const taken = tryLockDataFolder(dir);
process.stdout.write('lock' in taken ? 'GOT\n' : `HELD ${describeHolder(taken.heldBy)}\n`);
const letGo = (): void => {
  if ('lock' in taken) taken.lock.release();
};
const hold = setTimeout(letGo, holdMs);
process.once('SIGTERM', () => {
  clearTimeout(hold);
  letGo();
  process.exit(0);
});
