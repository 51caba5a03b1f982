import { describe, expect, it } from 'vitest';
import { DAY, FakeClock } from '../adapters/driven/clock/index.ts';
import { createRootCa } from '../adapters/driven/pki/index.ts';
import { openDataFolderSecureEnvironment, systemRandom } from '../adapters/runtime/index.ts';
import { ownerView } from '../domain/ports/index.ts';
import { pkiOf } from './support/pki-test-ca.ts';
import { startTestService, type TestService } from './support/service.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

/*
 * A CA's end was said only once it had come (the CA retired, review 82). And a CA stops certifying node credentials a
 * credential's lifetime (a year) before its chain ends (review 118): a certificate lasts as long as its credential and
 * never outlives the chain (`ca_expires_first`). The service now warns once per CA and process a month before that
 * last instant, at start or at the PKI tick that finds it so, and /metrics gives each CA's chain end and that instant
 * (`credence_pki_ca_chain_end_timestamp_seconds{ca}`, `credence_pki_ca_certifies_until_timestamp_seconds{ca}`).
 */
const SOON = 'sub-soon';
const LATER = 'sub-later';

const folder = temporaryFolders('credence-ca-soon-');

/** CA `default` for ten years, `sub-soon` for 380 days and `sub-later` for 420, all from `now`. */
const folderWithCas = async (now: Date): Promise<string> => {
  const made = folder();
  const se = openDataFolderSecureEnvironment(made, { now: () => now });
  try {
    const infra = ownerView(se, 'maf:infrastructure');
    await createRootCa({ dataDir: made, se: infra, id: 'default', kind: 'p256', now, random: systemRandom });
    await createRootCa({ dataDir: made, se: infra, id: SOON, kind: 'p256', now, random: systemRandom, validityDays: 380 });
    await createRootCa({ dataDir: made, se: infra, id: LATER, kind: 'p256', now, random: systemRandom, validityDays: 420 });
  } finally {
    se.close();
  }
  return made;
};

const nearingWarnings = (s: TestService) =>
  s.logs()
    .map((line) => JSON.parse(line) as Record<string, unknown>)
    .filter((line) => line['level'] === 40 && typeof line['endsAt'] === 'string');

describe('an issuing CA nearing its end', () => {
  it('is warned of once, a month ahead, at start or at the tick that finds it; each CA\'s end is a metric', async () => {
    const now = new Date(Math.floor(Date.now() / 1000) * 1000);
    const clock = new FakeClock(now);
    const svc = await startTestService({ dir: await folderWithCas(now), clock });
    try {
      // At start: the CA that stops certifying node credentials (a year before its end) within 30 days, not the others
      expect(nearingWarnings(svc).map((w) => w['caId'])).toEqual([SOON]);
      const [warning] = nearingWarnings(svc);
      expect(warning!['endsAt']).toBe(new Date(now.getTime() + 380 * DAY).toISOString());
      expect(warning!['certifiesUntil']).toBe(new Date(now.getTime() + 15 * DAY).toISOString());
      expect(String(warning!['msg'])).toContain(`CA ${SOON} certifies node credentials only until ${new Date(now.getTime() + 15 * DAY).toISOString()}`);
      expect(String(warning!['msg'])).toContain(`credence ca renew --id ${SOON};`);
      expect(JSON.stringify(warning)).not.toMatch(/key_|handle/i);

      const metrics = await (await fetch(`${svc.url}/metrics`)).text();
      for (const [ca, days] of [['default', 3650], [SOON, 380], [LATER, 420]] as const) {
        expect(metrics).toContain(`credence_pki_ca_chain_end_timestamp_seconds{ca="${ca}"} ${Math.floor(now.getTime() / 1000) + days * 86_400}`);
        expect(metrics).toContain(`credence_pki_ca_certifies_until_timestamp_seconds{ca="${ca}"} ${Math.floor(now.getTime() / 1000) + (days - 365) * 86_400}`);
      }

      // A tick once `sub-later` is within 30 days of its last certificate: warned of once, however many ticks follow
      clock.advance(26 * DAY);
      await pkiOf(svc).tick();
      await pkiOf(svc).tick();
      expect(nearingWarnings(svc).map((w) => w['caId'])).toEqual([SOON, LATER]);
      expect(svc.logs().filter((l) => l.includes('PKI revocation failed'))).toEqual([]);
    } finally {
      await svc.close();
    }
  }, 60_000);
});
