import { randomBytes } from 'node:crypto';
import { toBase64url, toHex } from '../../domain/crypto/index.ts';

/** A provisioning hello anyone can send: a Node-ID no one recorded, a fingerprint made up, a fresh nonce. */
export const strangersHello = (enrolmentFunctionId: string, i: number) => ({
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
