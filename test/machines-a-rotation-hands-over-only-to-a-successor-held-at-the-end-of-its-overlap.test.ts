import { describe, expect, it } from 'vitest';
import { evaluate, initialSnapshot, type EntitySnapshot, type Facts, type MachineEvent } from '../machines/index.ts';

/*
 * HLR-212, review 31: while a rotation stands, a revocation as superseded is legal only if the node holds the successor
 * (or where a successor superseded in turn handed over to) at the end of the overlap, or now while it lasts
 * (`handedOver`); an abandonment only if it does not (`rotationAbandonable`). Judged from when the successor was
 * provisioned and when it ended, which its context keeps. Given a credential c rotating to c2, overlap ending at day 20.
 */

const T = Date.parse('2026-01-01T00:00:00.000Z');
const DAY = 86_400_000;
const at = (days: number) => T + days * DAY;
const iso = (days: number) => new Date(at(days)).toISOString();
const view = (state: string, context: Record<string, unknown> = {}) => ({ state, context });
const e = (type: string, data: Record<string, unknown>, days: number, facts: Facts = {}): MachineEvent =>
  ({ type, data, at: at(days), facts }) as unknown as MachineEvent;

const node = { kind: 'node', id: 'n' };
const credential = (state: string, context: Record<string, unknown> = {}) =>
  view(state, { owner: node, notBefore: at(0), notAfter: at(100), liveAssociations: [], ...context });

/** c issued and provisioned, rotating to c2 (issued for n, naming c) until day 20. */
const rotating = (): EntitySnapshot => {
  let snapshot = initialSnapshot('credential', 'c');
  for (const event of [
    e('CredentialIssued', {
      credentialId: 'c', kind: 'ed25519', publicKey: 'A'.repeat(43), purpose: 'service', owner: node,
      fingerprint: `sha256:${'a'.repeat(64)}`, notBefore: iso(0), notAfter: iso(100),
    }, 0, { owner: view('enrolled') }),
    e('CredentialProvisioned', { credentialId: 'c', method: 'pre-provisioning' }, 0, { owner: view('enrolled') }),
    e('CredentialRotationStarted', { credentialId: 'c', successorId: 'c2', overlapEndsAt: iso(20) }, 1, { successor: credential('initialized', { predecessorId: 'c' }), owner: view('enrolled') }),
  ]) {
    const verdict = evaluate('credential', snapshot, event);
    if (!verdict.ok) throw new Error(`given: ${event.type} refused`);
    snapshot = verdict.snapshot;
  }
  return snapshot;
};

const HELD = credential('enrolled', { provisionedAt: at(1) });
const revokedOn = (day: number) => credential('revoked', { provisionedAt: at(1), endedAt: at(day), revocationReason: 'keyCompromise' });
const supersededOn = (day: number) => credential('revoked', { provisionedAt: at(1), endedAt: at(day), revocationReason: 'superseded', successorId: 'c3' });

const revokeSuperseded = (days: number, facts: Facts) => e('CredentialRevoked', { credentialId: 'c', reason: 'superseded' }, days, facts);
const abandon = (days: number, facts: Facts) => e('CredentialRotationAbandoned', { credentialId: 'c', successorId: 'c2' }, days, facts);

const RULES: readonly [string, MachineEvent, 'accepted' | string][] = [
  ['superseded during the overlap while the node holds the successor', revokeSuperseded(10, { successor: HELD }), 'accepted'],
  ['superseded during the overlap, the successor revoked', revokeSuperseded(10, { successor: revokedOn(5) }), 'handedOver'],
  ['superseded, the successor never provisioned', revokeSuperseded(21, { successor: credential('initialized') }), 'handedOver'],
  ['superseded at the end of the overlap, the successor revoked at that instant', revokeSuperseded(20, { successor: revokedOn(20) }), 'handedOver'],
  ['superseded after the overlap, the successor revoked after its end (held then)', revokeSuperseded(30, { successor: revokedOn(25) }), 'accepted'],
  ['superseded after the overlap, the successor provisioned only after its end', revokeSuperseded(30, { successor: credential('enrolled', { provisionedAt: at(22) }) }), 'handedOver'],
  ['superseded, the successor handed over before the end to one held then', revokeSuperseded(21, { successor: supersededOn(15), handover: HELD }), 'accepted'],
  ['superseded, the successor handed over before the end to one revoked before it', revokeSuperseded(21, { successor: supersededOn(15), handover: revokedOn(18) }), 'handedOver'],
  ['superseded, the successor handed over after the end (held at it)', revokeSuperseded(30, { successor: supersededOn(25), handover: revokedOn(28) }), 'accepted'],
  ['revoked for another reason, the successor revoked', e('CredentialRevoked', { credentialId: 'c', reason: 'keyCompromise' }, 10, {}), 'accepted'],
  ['abandoned during the overlap, the successor revoked', abandon(10, { successor: revokedOn(5) }), 'accepted'],
  ['abandoned after the overlap, the successor revoked before its end', abandon(30, { successor: revokedOn(15) }), 'accepted'],
  ['abandoned after the overlap, the successor revoked after its end (held at it)', abandon(30, { successor: revokedOn(25) }), 'rotationAbandonable'],
  ['abandoned after the overlap, the successor provisioned only after its end', abandon(30, { successor: credential('enrolled', { provisionedAt: at(22) }) }), 'accepted'],
  ['abandoned, the successor superseded in turn', abandon(30, { successor: supersededOn(15) }), 'rotationAbandonable'],
];

describe('the end of a rotation (HLR-212, review 31): given c rotating to c2 until day 20', () => {
  it.each(RULES)('%s', (_name, event, expected) => {
    const verdict = evaluate('credential', rotating(), event);
    if (expected === 'accepted') expect(verdict.ok).toBe(true);
    else expect(verdict).toMatchObject({ ok: false, rule: expected });
  });

  it('keeps when it was provisioned and when it ended', () => {
    const ended = evaluate('credential', rotating(), revokeSuperseded(10, { successor: HELD }));
    expect(ended.ok && ended.snapshot.context).toMatchObject({ provisionedAt: at(0), endedAt: at(10), revocationReason: 'superseded' });
  });
});
