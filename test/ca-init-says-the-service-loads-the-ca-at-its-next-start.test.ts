import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from './support/cli.ts';
import { startTestService } from './support/service.ts';
import { tempDirs } from './support/temp-dirs.ts';

// Found in review: `credence ca init` said "(a running service loads it when it next starts)", though ca init is
// refused while a service runs on the folder. It now says what is true: the service loads it when it starts there.

const folders = tempDirs('credence-ca-init-says-');
afterAll(folders.cleanup);

describe('credence ca init on a data folder', () => {
  it('is refused while a service runs on it, and once none does, says the service loads the CA when it starts', async () => {
    const data = folders.make();
    const svc = await startTestService({ dir: data });
    try {
      const beside = await runCli(['ca', 'init', '--data', data, '--id', 'default']);
      expect(beside.code).not.toBe(0);
    } finally {
      await svc.close();
    }
    const made = await runCli(['ca', 'init', '--data', data, '--id', 'default']);
    expect(made.code, made.err).toBe(0);
    expect(made.err).toContain(`(the service loads it when it starts on ${data}: credence serve --data ${data})`);
    expect(made.err).not.toMatch(/running service/);
  }, 60_000);
});
