import { MessageChannel, Worker, type MessagePort } from 'node:worker_threads';
import type { FromWorker, ToWorker } from './messages.ts';

/** This thread's end of one replay worker (replay-worker.ts), asked in order and answering in order. */
export class ReplayWorker {
  readonly #worker: Worker;
  readonly #waiting: ((m: FromWorker) => void)[] = [];
  #failure: Error | undefined;

  constructor(url: URL) {
    this.#worker = new Worker(url);
    this.#worker.on('message', (m: FromWorker) => this.#waiting.shift()?.(m));
    const fail = (error: Error) => {
      this.#failure ??= error;
      for (const w of this.#waiting.splice(0)) w({ type: 'failed', error: this.#failure } as never);
    };
    this.#worker.on('error', fail);
    // A worker that exits while answers are pending (out of memory, killed) fails the replay instead of hanging it.
    this.#worker.on('exit', (code) => fail(new Error(`replay worker exited with code ${code} before answering`)));
  }

  post(message: ToWorker, transfer?: readonly MessagePort[]): void {
    this.#worker.postMessage(message, transfer);
  }

  /** Posts `message` and resolves with the worker's answer (the worker answers in order). */
  ask<T extends FromWorker['type']>(message: ToWorker, type: T): Promise<Extract<FromWorker, { type: T }>> {
    if (this.#failure !== undefined) return Promise.reject(this.#failure);
    return new Promise((resolve, reject) => {
      this.#waiting.push((m) => {
        if (m.type === type) resolve(m as Extract<FromWorker, { type: T }>);
        else reject((m as unknown as { error?: Error }).error ?? new Error(`replay worker answered ${m.type} to ${message.type}`));
      });
      this.#worker.postMessage(message);
    });
  }

  terminate(): Promise<number> {
    return this.#worker.terminate();
  }
}

/** A channel between every two workers, for the fact revisions of each round (messages.ts PeerRevisions). */
export const connectPeers = (workers: readonly ReplayWorker[]): void => {
  const ports: MessagePort[][] = workers.map(() => []);
  for (let i = 0; i < workers.length; i++) {
    for (let j = i + 1; j < workers.length; j++) {
      const { port1, port2 } = new MessageChannel();
      ports[i]!.push(port1);
      ports[j]!.push(port2);
    }
  }
  workers.forEach((w, i) => w.post({ type: 'peers', ports: ports[i]! }, ports[i]!));
};
