/**
 * Review 270: after the service's clock stepped back (NTP correcting a clock that ran ahead), OCSP kept failing where
 * the CRLs recover (review 251). An answer cached on the fast clock stayed "fresh" (now < producedAt + validity/4
 * always holds for a producedAt to come), so GET served producedAt, thisUpdate, Last-Modified and Expires hours ahead
 * ("status not yet valid") for the step plus 15 minutes, whatever the tick did. And the responder certificate issued on
 * the fast clock began hours ahead: renewed only once two thirds of its validity had passed, every answer signed with
 * it failed verification ("certificate is not yet valid") until real time passed its notBefore, a restart included.
 * Now an answer produced after now is stale, and a responder certificate beginning after now is due (the tick and the
 * start renew it), unless a new one could begin no earlier (its CA begins later still): that one would be due again
 * at every tick. `openssl ocsp` reads what relying parties get, on the real clock.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import * as pkijs from 'pkijs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRootCa } from '../adapters/driven/pki/index.ts';
import { OcspSigningKey } from '../adapters/driven/pki/ocsp-signing-key.ts';
import { openDataFolderSecureEnvironment, systemRandom } from '../adapters/runtime/index.ts';
import { ownerView } from '../domain/ports/index.ts';
import { memorySecureEnvironment } from './crypto-fixtures.ts';
import { hasOpenssl, OpenSslDir, pem } from './support/openssl.ts';
import { issueCertifiedCredential, pkiOf, testCa } from './support/pki-test-ca.ts';
import { startTestService, type TestService } from './support/service.ts';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
/** What `openssl ocsp` allows a time to be ahead by (its -validity_period default), with a little margin. */
const SLACK = 5 * MINUTE;

/** The producedAt and (first) thisUpdate of a DER OCSPResponse. */
const timesOf = (der: Uint8Array): { producedAt: number; thisUpdate: number } => {
  const response = pkijs.OCSPResponse.fromBER(der);
  const basic = pkijs.BasicOCSPResponse.fromBER(response.responseBytes!.response.valueBlock.valueHexView);
  return { producedAt: basic.tbsResponseData.producedAt.getTime(), thisUpdate: basic.tbsResponseData.responses[0]!.thisUpdate.getTime() };
};

/**
 * A data folder whose CA is made at real time, and the service over it on a clock `offset` ms ahead (settable), the
 * monotonic clock the real one: the reviewer's reproduction.
 */
const fixture = (name: string) => {
  const dir = mkdtempSync(join(tmpdir(), `credence-${name}-`));
  const files = new OpenSslDir(`credence-${name}-`);
  const clock = { offset: 6 * HOUR };
  let svc: TestService | undefined;
  const start = async (): Promise<TestService> => {
    const se = openDataFolderSecureEnvironment(dir, { now: () => new Date() });
    try {
      await createRootCa({ dataDir: dir, se: ownerView(se, 'maf:infrastructure'), id: 'default', kind: 'p256', now: new Date(), random: systemRandom });
    } finally {
      se.close();
    }
    svc = await startTestService({ dir, clock: { now: () => new Date(Date.now() + clock.offset) }, monotonicNow: () => performance.now() });
    files.write('ca.pem', pem('CERTIFICATE', new Uint8Array(await (await fetch(`${svc.url}/pki/default/ca.crt`)).arrayBuffer())));
    const leaf = await issueCertifiedCredential(svc, 'cred-step-back');
    files.write('device.pem', leaf.pem);
    await files.ok(['ocsp', '-issuer', 'ca.pem', '-cert', 'device.pem', '-no_nonce', '-reqout', 'plain.req']);
    return svc;
  };
  const url = () => `${svc!.url}/pki/default/ocsp`;
  /** GET of the request without nonce (RFC 6960 A.1): the answer, its headers, and `openssl ocsp` reading it. */
  const get = async (label: string) => {
    const response = await fetch(`${url()}/${encodeURIComponent(files.read('plain.req').toString('base64'))}`);
    expect(response.status).toBe(200);
    const der = new Uint8Array(await response.arrayBuffer());
    return { der, ...timesOf(der), headers: response.headers, openssl: await check(label, der, ['-no_nonce']) };
  };
  /** What `openssl ocsp` says asking by POST with a nonce (its default), as a relying party asks; the answer's times. */
  const postWithNonce = async (label: string) => {
    const r = await files.run(['ocsp', '-issuer', 'ca.pem', '-cert', 'device.pem', '-url', url(), '-CAfile', 'ca.pem', '-respout', `${label}.resp`]);
    return { ...timesOf(new Uint8Array(files.read(`${label}.resp`))), openssl: r.stdout + r.stderr };
  };
  const check = async (label: string, der: Uint8Array, extra: readonly string[]) => {
    files.write(`${label}.resp`, der);
    const r = await files.run(['ocsp', '-respin', `${label}.resp`, '-issuer', 'ca.pem', '-cert', 'device.pem', '-CAfile', 'ca.pem', ...extra]);
    return r.stdout + r.stderr;
  };
  const close = async () => {
    await svc?.close();
    rmSync(dir, { recursive: true, force: true });
    files.remove();
  };
  return { clock, start, get, postWithNonce, url, close, svc: () => svc! };
};

/** What a relying party on the real clock accepts: verified, good, and no time of it still to come. */
const accepted = (said: string) => {
  expect(said).toContain('Response verify OK');
  expect(said).toContain('device.pem: good');
  expect(said).not.toContain('Status times invalid');
  expect(said).not.toContain('not yet valid');
};

describe.skipIf(!hasOpenssl())('OCSP after the service clock steps back 6 hours (review 270)', () => {
  const f = fixture('ocsp-step-back');

  beforeAll(async () => {
    await f.start();
  }, 60_000);
  afterAll(() => f.close());

  it('drops the answer cached on the fast clock, and the tick renews the responder certificate that began ahead', async () => {
    const ahead = await f.get('ahead');
    expect(ahead.producedAt).toBeGreaterThan(Date.now() + 5 * HOUR);

    // NTP steps the clock back to the right time.
    f.clock.offset = 0;
    const corrected = await f.get('corrected');
    expect(corrected.producedAt).toBeLessThanOrEqual(Date.now());
    expect(corrected.thisUpdate).toBeLessThanOrEqual(Date.now());
    const lastModified = corrected.headers.get('last-modified');
    if (lastModified !== null) expect(Date.parse(lastModified)).toBeLessThanOrEqual(Date.now());
    const expires = corrected.headers.get('expires');
    if (expires !== null) expect(Date.parse(expires)).toBeLessThanOrEqual(Date.now() + HOUR + SLACK);

    await pkiOf(f.svc()).tick();
    accepted((await f.get('after-tick')).openssl);
    const nonced = await f.postWithNonce('nonce-after-tick');
    expect(nonced.producedAt).toBeLessThanOrEqual(Date.now());
    accepted(nonced.openssl);
  }, 60_000);
});

describe.skipIf(!hasOpenssl())('a restart after the service clock stepped back 6 hours (review 270)', () => {
  const f = fixture('ocsp-step-back-restart');

  beforeAll(async () => {
    await f.start();
  }, 60_000);
  afterAll(() => f.close());

  it('renews the responder certificate that began ahead at the start', async () => {
    expect((await f.get('ahead')).producedAt).toBeGreaterThan(Date.now() + 5 * HOUR);
    f.clock.offset = 0;
    await f.svc().restart();
    const nonced = await f.postWithNonce('nonce-after-restart');
    expect(nonced.producedAt).toBeLessThanOrEqual(Date.now());
    accepted(nonced.openssl);
    accepted((await f.get('after-restart')).openssl);
  }, 60_000);
});

describe('a responder certificate beginning after now', () => {
  it('is due, and a renewed one is not', async () => {
    const real = Date.now();
    let now = real + 6 * HOUR;
    const ca = await testCa('default', 'p256', real);
    const se = ownerView(memorySecureEnvironment('ocsp-step-back-due', () => new Date(now)), 'maf:infrastructure');
    const key = await OcspSigningKey.open({ se, ca, random: systemRandom, now: () => now });
    expect(key.due()).toBe(false);
    now = real;
    expect(key.due()).toBe(true);
    expect(await key.renewIfDue()).toBe(true);
    expect(key.current.notBefore).toBeLessThanOrEqual(now);
    expect(key.due()).toBe(false);
  });

  it('is not due when its CA begins after now as well: a new one could begin no earlier, and would be due at every tick', async () => {
    const real = Date.now();
    // The CA too was made on a clock two days fast: it begins a day after the real time (testCa: a day before its
    // `now`), and the responder certificate issued just after it begins with it.
    const ca = await testCa('default', 'p256', real + 2 * DAY);
    let now = real + DAY + 5_000;
    const se = ownerView(memorySecureEnvironment('ocsp-step-back-ca-ahead', () => new Date(now)), 'maf:infrastructure');
    const key = await OcspSigningKey.open({ se, ca, random: systemRandom, now: () => now });
    const issued = key.current.certificate;
    now = real;
    expect(key.due()).toBe(false);
    expect(await key.renewIfDue()).toBe(false);
    expect(key.current.certificate).toBe(issued);
  });

  it('is due under a CA beginning after now when a new one would begin earlier, and then no more', async () => {
    const real = Date.now();
    // The CA made 1 h ahead of the real time (it begins 1 h after real time minus a day: a day after `now - DAY`).
    const ca = await testCa('default', 'p256', real + DAY + HOUR);
    let now = real + DAY + 6 * HOUR;
    const se = ownerView(memorySecureEnvironment('ocsp-step-back-ca-ahead-less', () => new Date(now)), 'maf:infrastructure');
    const key = await OcspSigningKey.open({ se, ca, random: systemRandom, now: () => now });
    now = real;
    expect(key.due()).toBe(true);
    expect(await key.renewIfDue()).toBe(true);
    // As early as the CA allows, which is still after now: nothing more to gain, so not due again.
    expect(key.current.notBefore).toBe(Math.floor((real + HOUR) / 1000) * 1000);
    expect(key.due()).toBe(false);
  });
});
