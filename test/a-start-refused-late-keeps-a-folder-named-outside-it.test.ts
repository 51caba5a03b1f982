/**
 * Found in review: a start on a new data folder that failed late (here its port, taken while it was starting) removed
 * the folder it made even where something outside the folder already named what it held: keys made in an HSM (the
 * token signing key, named in access.db) or events appended to an external store by the live runtime. The folder is
 * now kept in those cases, and still removed where everything of the start was in it.
 */
import { existsSync, readdirSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serviceConfig, type ServiceConfigInput } from '../adapters/http/config.ts';
import type { RouteModule } from '../adapters/http/context.ts';
import { startService } from '../adapters/http/start.ts';
import { lockDataFolder } from '../adapters/runtime/index.ts';
import { startStandIn, type StandIn } from './esdb-standin/index.ts';
import { closedPort } from './support/closed-port.ts';
import { softHsm, softHsmMissing } from './support/softhsm.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

const scratch = temporaryFolders('credence-late-refusal-');

/**
 * Starts a service on a new folder whose port another server takes while the service is being built, after every
 * check of the port: its listen, after the live runtime started, fails.
 */
const startLosingItsPort = async (settings: ServiceConfigInput): Promise<{ data: string; error: unknown }> => {
  const data = join(scratch(), 'new', 'data');
  const port = await closedPort();
  let thief: Server | undefined;
  const takePort: RouteModule = async () => {
    thief = createServer();
    await new Promise<void>((resolve) => thief!.listen(port, '127.0.0.1', resolve));
  };
  // Durability is the embedded store's only: refused beside an external one (review 324 item 4).
  const config = serviceConfig({ host: '127.0.0.1', port, logLevel: 'silent', ...(settings.store === undefined ? { durability: 'normal' as const } : {}), ...settings, data });
  const error = await startService(config, { routes: [takePort] }).then(
    async (service) => {
      await service.close();
      return undefined;
    },
    (e: unknown) => e,
  );
  await new Promise<void>((resolve) => (thief === undefined ? resolve() : thief.close(() => resolve())));
  return { data, error };
};

const expectPortRefusal = (error: unknown): void => {
  expect((error as NodeJS.ErrnoException | undefined)?.code).toBe('EADDRINUSE');
};

/** The folder is let go of: another start can lock it at once. */
const expectUnlocked = (data: string): void => {
  lockDataFolder(data).release();
};

describe('a start on a new folder refused after its live runtime started', () => {
  it('removes the folder when everything it made is in it (embedded store and Secure Environment)', async () => {
    const { data, error } = await startLosingItsPort({});
    expectPortRefusal(error);
    expect(existsSync(data)).toBe(false);
    expect(existsSync(join(data, '..'))).toBe(false);
  });

  describe('with an external event store', () => {
    let standIn: StandIn;
    beforeAll(async () => {
      standIn = await startStandIn();
    });
    afterAll(() => standIn.stop());

    it('keeps the folder, whose keys the store may already hold events of', async () => {
      const { data, error } = await startLosingItsPort({ store: standIn.connectionString });
      expectPortRefusal(error);
      expect(readdirSync(data)).toEqual(expect.arrayContaining(['keys.db', 'access.db', 'readmodels.db']));
      expectUnlocked(data);
    });
  });

  describe.skipIf(softHsmMissing !== undefined)('with a Secure Environment in an HSM', () => {
    const hsm = softHsm();
    afterAll(() => hsm.cleanup());
    const token = hsm.token('late-refusal');

    it('keeps the folder, which names the keys the start made in the HSM', async () => {
      const { data, error } = await startLosingItsPort({ secureEnvironment: token.uri() });
      expectPortRefusal(error);
      expect(readdirSync(data)).toContain('access.db');
      // The token signing key this start made is in the HSM: the folder's access.db is what names it.
      expect(hsm.listObjects(token)).toMatch(/Private Key Object; EC/);
      expectUnlocked(data);
    });
  });
});
