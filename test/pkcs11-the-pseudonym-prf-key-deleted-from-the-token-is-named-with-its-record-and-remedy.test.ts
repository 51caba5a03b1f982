/**
 * Review 162 follow-up: the pseudonym PRF key (keys.db, stream infrastructure, purpose pseudonym-prf) deleted from the
 * token behind Credence's back. Before, every pseudonym derivation, while serving and after a restart, failed with a
 * bare `not_found` ("key key_… does not exist"), which POST /v1/pseudonyms/rotations answered as a bare 500, naming neither
 * the key's purpose, nor its record, nor what to do. Now it is a `secure_environment_unavailable` (a 503) naming the
 * key, its record and the remedy (restore the token, or the embedded Secure Environment's files); a new key is not
 * offered, since it would change every pseudonym.
 */
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { serviceConfig } from '../adapters/http/config.ts';
import { startService } from '../adapters/http/start.ts';
import { isCredenceError } from '../domain/errors.ts';
import { cmd, rejection } from './support/fleet.ts';
import { softHsm, softHsmMissing } from './support/softhsm.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

const scratch = temporaryFolders('credence-prf-key-gone-');

describe.skipIf(softHsmMissing !== undefined)('PKCS#11: the pseudonym PRF key deleted from the token', () => {
  const hsm = softHsm();
  afterAll(() => hsm.cleanup());
  const token = hsm.token('prfkey');

  const expectNamed = (error: unknown, handle: string) => {
    expect(isCredenceError(error, 'secure_environment_unavailable')).toBe(true);
    const problem = (error as { problem: { reason: string; message: string } }).problem;
    expect(problem.reason).toBe('pseudonym_prf_key_missing');
    expect(problem.message).toContain(`pseudonym PRF key ${handle}`);
    expect(problem.message).toContain('keys.db (stream infrastructure, purpose pseudonym-prf)');
    expect(problem.message).toMatch(/restore the token from a backup/);
    expect(problem.message).toMatch(/Secure Environment files/);
    expect(problem.message).toMatch(/every pseudonym/);
  };

  it('while serving a rotation is a typed 503 naming its reason, not a bare 500, and after a restart a derivation names the key, its record and the remedy', async () => {
    const data = join(scratch(), 'data');
    const config = serviceConfig({ host: '127.0.0.1', port: 0, logLevel: 'silent', durability: 'normal', data, secureEnvironment: token.uri() });
    let service = await startService(config);
    let handle: string;
    try {
      const { access, credence } = service.context;
      const operator = (await access.issue({ subject: 'ops', role: 'operator', ttlSeconds: 3_600, issuedBy: 'test' })).token;
      await credence.engine.execute(cmd.registerNode('meter-1'));
      const rotate = () =>
        fetch(`${service.url}/v1/pseudonyms/rotations`, {
          method: 'POST',
          headers: { authorization: `Bearer ${operator}`, 'content-type': 'application/json' },
          body: JSON.stringify({ nodeId: 'meter-1', commandId: randomUUID() }),
        });
      expect((await rotate()).status).toBe(201);
      [handle] = credence.keyRegistry!.live('infrastructure', 'pseudonym-prf') as [string];
      hsm.deleteObjects(token, handle, ['secrkey']);

      const refused = await rotate();
      const text = await refused.text();
      expect(refused.status).toBe(503);
      expect(JSON.parse(text)).toMatchObject({ type: expect.stringMatching(/secure_environment_unavailable$/), reason: 'pseudonym_prf_key_missing' });
      expect(text).not.toContain(handle);
      expectNamed(await rejection(credence.pseudonyms!.deriver.node('meter-1', 5)), handle);
    } finally {
      await service.close();
    }

    // A restart: the key is found in keys.db and refused by name at its first use.
    service = await startService(config);
    try {
      expectNamed(await rejection(service.context.credence.pseudonyms!.deriver.node('meter-1', 5)), handle);
    } finally {
      await service.close();
    }
  }, 60_000);
});
