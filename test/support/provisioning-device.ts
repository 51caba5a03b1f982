import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect } from 'vitest';
import { ProblemResponse } from '../../adapters/client/http.ts';
import { toBase64url } from '../../domain/crypto/base64url.ts';
import { clientOf, type ServerTarget } from '../../bin/commands/options.ts';
import { deviceCli } from './device-cli.ts';
import type { DeviceState } from '../../bin/commands/device/state.ts';
import { operatorCommand } from '../../bin/commands/device/steps.ts';
import { startTestService, type TestService } from './service.ts';

/** Subscription `subscriptionId` created through `operator`, serving from now for a year. */
export const subscriptionForAYear = async (operator: ServerTarget, subscriptionId: string): Promise<void> => {
  const now = new Date();
  await operatorCommand(operator, 'createSubscription', {
    subscriptionId, subscriber: 'City Utilities', notBefore: now.toISOString(), notAfter: new Date(now.getTime() + 365 * 86_400_000).toISOString(),
  });
};

/**
 * A service with one subscription, `subscriptionId`, and device folders under a scratch root, for the tests of what
 * `credence device provision` leaves behind when a run is cut short: the CLI, the keys a folder holds and names, and
 * what the server holds. Registers its own beforeAll/afterAll.
 */
export const provisioningDevices = (subscriptionId: string) => {
  let service: TestService;
  let root: string;
  const url = (): string => service.url;
  const operator = () => ({ url: service.url, token: service.tokens.operator });
  beforeAll(async () => {
    service = await startTestService();
    root = mkdtempSync(join(tmpdir(), `credence-${subscriptionId}-`));
    await subscriptionForAYear(operator(), subscriptionId);
  }, 60_000);
  afterAll(async () => {
    await service?.close();
    if (root !== undefined) rmSync(root, { recursive: true, force: true });
  });

  const device = deviceCli;

  /** An initialised device of node `nodeId`, enrolled under the subscription; its folder. */
  const enrolledDevice = async (nodeId: string): Promise<string> => {
    const dir = join(root, nodeId);
    expect((await device(['init', '--node-id', nodeId, '--kind', 'ed25519', '--dir', dir, '--server', service.url, '--token', operator().token])).code).toBe(0);
    await operatorCommand(operator(), 'enrolNode', { nodeId, subscriptionId, cseId: `/${nodeId}-cse` });
    return dir;
  };

  /** Every key handle the state names, the pending run's among them. */
  const named = (state: DeviceState): string[] =>
    [state.bootstrap.handle, ...state.credentials.map((c) => c.handle), ...(state.provisioning !== undefined ? [state.provisioning.handle] : [])].sort();

  /** Every key the folder's Secure Environment holds, and its sealed material, read from its key database. */
  const held = (dir: string): { handle: string; sealed: Buffer | null }[] => {
    const db = new Database(join(dir, 'secure-environment.sqlite'), { readonly: true });
    try {
      return db.prepare('SELECT handle, sealed FROM se_keys ORDER BY handle').all() as { handle: string; sealed: Buffer | null }[];
    } finally {
      db.close();
    }
  };

  /** The fingerprint the server holds for `credentialId`, or undefined when it holds no such credential. */
  const fingerprintOnServer = async (credentialId: string): Promise<unknown> => {
    try {
      return ((await clientOf(operator()).entity('credential', credentialId)).context as { fingerprint?: unknown }).fingerprint;
    } catch (error) {
      if (error instanceof ProblemResponse && error.status === 404) return undefined;
      throw error;
    }
  };

  /** Nothing secret in what the CLI said: neither the operator token nor any sealed key material. */
  const expectNoSecret = (output: string, dir: string): void => {
    expect(output).not.toContain(operator().token);
    for (const { sealed } of held(dir)) {
      if (sealed === null || sealed.length === 0) continue;
      expect(output).not.toContain(toBase64url(sealed));
      expect(output).not.toContain(sealed.toString('hex'));
    }
  };

  /** The service itself, for a test that reaches into its store. */
  const testService = (): TestService => service;

  return { url, operator, testService, device, enrolledDevice, named, held, fingerprintOnServer, expectNoSecret };
};
