import { OneAtATime } from '../../adapters/http/routes/one-at-a-time.ts';

/** A promise `opened` that settles when `open()` is called: holds a queued job until the test lets it end. */
export const gate = () => {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { opened, open };
};

/**
 * An evidence queue of two places per caller whose first job, mallory's, is running and holds the queue until
 * `slow.open()`; `log` says which jobs ran, in order.
 */
export const queueHeldByMallory = () => {
  const queue = new OneAtATime('evidence bundles', 8, 5, 2);
  const slow = gate();
  const log: string[] = [];
  const first = queue.run(async () => {
    log.push('mallory 1');
    await slow.opened;
  }, 'mallory');
  return { queue, slow, log, first };
};
