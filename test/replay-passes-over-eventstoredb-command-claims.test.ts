import { describe, expect, it } from 'vitest';
import { commandClaimStreamOf } from '../adapters/driven/store/eventstoredb/append.ts';
import { FACT_CLAIM_TYPE } from '../domain/fact-claims.ts';
import type { RecordedEvent } from '../domain/ports/event-store.ts';
import { FleetVerifier } from '../projections/replay/verifier.ts';

/*
 * Found in review: EventStoreDB binds each command id to its stream with a claim on `credence-command-<id>`. Replay
 * kept one revision per such stream for good (a map growing with every command of the log), and flagged the claim of
 * a command id longer than a fact claim's as malformed. A claim on a stream that is no entity's is passed over.
 */
const claimRecord = (position: bigint, commandId: string, claimant: string): RecordedEvent => ({
  id: `00000000-0000-4000-8000-${position.toString().padStart(12, '0')}`,
  streamId: commandClaimStreamOf(commandId),
  revision: 0n,
  position,
  type: FACT_CLAIM_TYPE,
  data: { claimant, commandId },
  metadata: {},
});

describe('replay and the command claims of EventStoreDB', () => {
  it('keeps nothing per command and flags nothing, whatever the length of the ids', () => {
    const verifier = new FleetVerifier();
    for (let i = 1; i <= 1000; i++) verifier.apply(claimRecord(BigInt(i), `command-${i}`, `credential-c${i}`));
    verifier.apply(claimRecord(1001n, 'c'.repeat(260), `credential-${'x'.repeat(320)}`));
    expect(verifier.revisions.size).toBe(0);
    expect(verifier.claims.size).toBe(0);
    expect(verifier.verdict()).toMatchObject({ events: 0, foreignEvents: 0, findings: [] });
  });

  it('flags a claim on such a stream that names no claimant or command (found in review: passed over silently)', () => {
    const verifier = new FleetVerifier();
    verifier.apply({ ...claimRecord(1n, 'c-1', 'credential-c1'), data: { claimant: 7 } });
    expect(verifier.verdict().findings.map((f) => f.reason)).toEqual(['unreadable: malformed fact claim']);
  });

  it('still judges a fact claim on an entity stream', () => {
    const verifier = new FleetVerifier();
    verifier.apply({ ...claimRecord(1n, 'c-1', 'association-sa-1'), streamId: 'credential-cred-1', data: { claimant: 'association-sa-1', commandId: 'c'.repeat(260) } });
    expect(verifier.verdict().findings.map((f) => f.reason)).toEqual(['unreadable: malformed fact claim']);
  });
});
