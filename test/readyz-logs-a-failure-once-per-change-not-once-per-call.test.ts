import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import { secureEnvironmentUnavailable } from '../domain/errors.ts';
import { KeyHandle } from '../domain/ports/secure-environment.ts';
import { caSigningKeyMissing } from '../adapters/driven/pki/ca-key.ts';
import { ocspSigningKeyMissing } from '../adapters/driven/pki/ocsp-signing-key.ts';
import { startReadyzHarness, type ReadyzHarness } from './support/readyz-harness.ts';

/*
 * Review 381 #1: /readyz is public, and while the service was unready each call logged: an error line with its stack
 * while access.db failed, a warn line while the Secure Environment could not be used. A stranger polling it wrote as
 * many lines as it sent calls. Each failure is now logged once per change: when first seen, when its reason changes,
 * and once when it recovers, whichever port (or how many) asked.
 */
describe('/readyz while unready', () => {
  let svc: ReadyzHarness;
  beforeAll(async () => {
    svc = await startReadyzHarness();
  });
  afterAll(async () => {
    await svc?.close();
  });

  const poll = async (times: number): Promise<number[]> => {
    const statuses: number[] = [];
    for (let i = 0; i < times; i++) {
      for (const base of [svc.api, svc.probes]) {
        const answer = await fetch(`${base}/readyz`);
        await answer.body?.cancel();
        statuses.push(answer.status);
      }
    }
    return statuses;
  };
  const linesWith = (text: string): string[] => svc.lines.filter((line) => line.includes(text));

  it('logs access.db failing once, its new reason once, and its recovery once, however often it is polled', async () => {
    svc.accessFails = new Database.SqliteError('disk I/O error', 'SQLITE_IOERR_READ');
    expect(new Set(await poll(6))).toEqual(new Set([503]));
    expect(linesWith('access.db cannot be read')).toHaveLength(1);
    expect(linesWith('SQLITE_IOERR_READ')).toHaveLength(1);

    svc.accessFails = new Database.SqliteError('database is locked', 'SQLITE_BUSY');
    await poll(4);
    expect(linesWith('access.db cannot be read')).toHaveLength(2);
    expect(linesWith('SQLITE_BUSY')).toHaveLength(1);

    svc.accessFails = undefined;
    expect(new Set(await poll(4))).toEqual(new Set([200]));
    const recovered = linesWith('access_db').filter((line) => !line.includes('cannot be read'));
    expect(recovered).toHaveLength(1);
    expect(recovered[0]).toMatch(/"level":30/);
    // Failing again is a change again.
    svc.accessFails = new Database.SqliteError('disk I/O error', 'SQLITE_IOERR_READ');
    await poll(3);
    expect(linesWith('access.db cannot be read')).toHaveLength(3);
    svc.accessFails = undefined;
    await poll(1);
  });

  it('logs the Secure Environment unready once per reason, and its recovery once', async () => {
    const said = (): string[] => linesWith('"check":"secure_environment"');
    svc.seUnavailable = secureEnvironmentUnavailable('token_unavailable', 'token "hsm-a" is unavailable: CKR_TOKEN_NOT_PRESENT', 'CKR_TOKEN_NOT_PRESENT');
    expect(new Set(await poll(6))).toEqual(new Set([503]));
    expect(linesWith('is unavailable: CKR_TOKEN_NOT_PRESENT')).toHaveLength(1);

    svc.seUnavailable = secureEnvironmentUnavailable('pin_locked', 'token "hsm-a": the user PIN is locked (CKR_PIN_LOCKED)', 'CKR_PIN_LOCKED');
    await poll(4);
    expect(linesWith('the user PIN is locked (CKR_PIN_LOCKED)')).toHaveLength(1);

    svc.seUnavailable = undefined;
    expect(new Set(await poll(4))).toEqual(new Set([200]));
    expect(said().filter((line) => /"level":30/.test(line))).toHaveLength(1);
    expect(said()).toHaveLength(3);
  });

  // Review 382 #3: the state was keyed by reason and return value; ca_signing_key_missing has none, so CA A's key
  // missing, then A's back while CA B's is missing, wrote nothing new: the log still named A's key.
  it('logs a different key missing as a change: another CA, another OCSP responder key', async () => {
    const keyOfA = KeyHandle.parse(`key_${'a'.repeat(24)}`);
    const keyOfB = KeyHandle.parse(`key_${'b'.repeat(24)}`);
    svc.seUnavailable = caSigningKeyMissing({ id: 'ca-a', keyHandle: keyOfA });
    await poll(3);
    expect(linesWith(keyOfA)).toHaveLength(1);
    svc.seUnavailable = caSigningKeyMissing({ id: 'ca-b', keyHandle: keyOfB });
    await poll(3);
    expect(linesWith(keyOfB)).toHaveLength(1);

    svc.seUnavailable = ocspSigningKeyMissing('ca-a', 'ocsp-of-a');
    await poll(3);
    expect(linesWith('ocsp-of-a')).toHaveLength(1);
    svc.seUnavailable = ocspSigningKeyMissing('ca-b', 'ocsp-of-b');
    await poll(3);
    expect(linesWith('ocsp-of-b')).toHaveLength(1);

    svc.seUnavailable = undefined;
    await poll(1);
  });
});
