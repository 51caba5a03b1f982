import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { toBase64url, toHex } from '../domain/crypto/index.ts';
import { REFUSALS_LOGGED_PER_ADDRESS } from '../adapters/http/refusal-sampling.ts';
import { startTestService } from './support/service.ts';

/*
 * Fix f1085, item 2: a hello whose credential cannot be used is answered with a decoy challenge, and its real reason
 * logged (`logConcealed`), one line each, unsampled. A hello is unauthenticated: a stranger needs no credential, only
 * the Enrolment Function's id (GET /v1/enrolment) and any Node-ID and fingerprint, and each hello wrote that line on top
 * of its `request completed`. Now the decoy lines of an address are sampled as its 429s are: the first
 * REFUSALS_LOGGED_PER_ADDRESS whole, then one line saying how many were left out; another address's are logged whole.
 */

interface LogLine {
  readonly msg?: string;
  readonly step?: string;
  readonly reason?: string;
  readonly remoteAddress?: string;
  readonly suppressed?: number;
}

/** A hello anyone can send: a Node-ID no one recorded, a fingerprint made up, a fresh nonce. */
const strangersHello = (enrolmentFunctionId: string, i: number) => ({
  type: 'provisioning.hello',
  version: 1,
  nodeId: `zz-stranger-${i}`,
  enrolmentFunctionId,
  credentialId: `zz-stranger-${i}-op`,
  bootstrap: { kind: 'ed25519', fingerprint: `sha256:${toHex(randomBytes(32))}` },
  credentialKind: 'ed25519',
  nodeNonce: toBase64url(randomBytes(32)),
  sentAt: new Date().toISOString(),
});

describe('a flood of hellos answered with a decoy challenge', () => {
  it('logs the first of an address whole, then one line saying how many it left out; another address is logged whole', async () => {
    const svc = await startTestService({ config: { trustProxy: ['127.0.0.1'], limits: { rateLimitWindowMs: 600_000, helloFloorMs: 0 } } });
    const flood = 100;
    let lines: LogLine[] = [];
    try {
      const { id } = (await (await fetch(`${svc.url}/v1/enrolment`)).json()) as { id: string };
      const hello = async (i: number, from: string) => {
        const res = await fetch(`${svc.url}/v1/enrolment/hello`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-forwarded-for': from },
          body: JSON.stringify(strangersHello(id, i)),
        });
        const body = (await res.json()) as { type?: string };
        return { status: res.status, type: body.type };
      };
      for (let i = 0; i < flood; i++) expect(await hello(i, '198.51.100.7')).toEqual({ status: 200, type: 'provisioning.challenge' });
      expect(await hello(flood, '203.0.113.9')).toEqual({ status: 200, type: 'provisioning.challenge' });
    } finally {
      await svc.close();
      lines = svc.logs().map((l) => JSON.parse(l) as LogLine);
    }
    const decoys = lines.filter((l) => l.msg === 'hello answered with a decoy challenge');
    expect(decoys).toHaveLength(REFUSALS_LOGGED_PER_ADDRESS + 1);
    expect(decoys[0]).toMatchObject({ step: 'provisioning.hello', reason: 'unknown_credential' });
    expect(lines.filter((l) => l.msg === 'refusals not logged')).toEqual([
      expect.objectContaining({ remoteAddress: '198.51.100.7', suppressed: flood - REFUSALS_LOGGED_PER_ADDRESS }),
    ]);
  }, 120_000);
});
