/**
 * Review 209: under the default `x-derivation=token` the service reported ready while PSK pre-provisioning and the
 * association handshake failed at run time with `mechanism_unsupported` (X25519, HKDF-SHA256 and XChaCha20-Poly1305
 * run in no token). The start now says so at warn, naming the `x-derivation=host` setting; under `host` it says nothing.
 */
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { serviceConfig } from '../adapters/http/config.ts';
import { startService } from '../adapters/http/start.ts';
import { softHsm, softHsmMissing } from './support/softhsm.ts';

const warnings = async (data: string, secureEnvironment: string): Promise<{ msg: string; secureEnvironment?: string }[]> => {
  const logStream = new PassThrough();
  let text = '';
  logStream.on('data', (chunk: Buffer) => (text += chunk.toString()));
  const service = await startService(serviceConfig({ host: '127.0.0.1', port: 0, logLevel: 'warn', durability: 'normal', data, secureEnvironment }), { logStream });
  await service.close();
  return text
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as { level: number; msg: string; secureEnvironment?: string })
    .filter((line) => line.level === 40);
};

describe.skipIf(softHsmMissing !== undefined)('a PKCS#11 start and its x-derivation', () => {
  const hsm = softHsm();
  afterAll(() => hsm.cleanup());
  const token = hsm.token('derivation');

  it('under x-derivation=token, warns once naming what fails and x-derivation=host', async () => {
    const said = (await warnings(join(hsm.dir, 'token'), token.uri())).filter((w) => w.secureEnvironment === 'pkcs11');
    expect(said).toHaveLength(1);
    expect(said[0]!.msg).toContain('PSK pre-provisioning');
    expect(said[0]!.msg).toContain('association handshake');
    expect(said[0]!.msg).toContain('mechanism_unsupported');
    expect(said[0]!.msg).toContain('x-derivation=host');
    expect(said[0]!.msg).toContain('CKM_EC_MONTGOMERY_KEY_PAIR_GEN');
  });

  it('under x-derivation=host, says nothing of it', async () => {
    const said = await warnings(join(hsm.dir, 'host'), token.uri('x-derivation=host'));
    expect(said.filter((w) => w.secureEnvironment === 'pkcs11' || w.msg.includes('x-derivation'))).toEqual([]);
  });
});
