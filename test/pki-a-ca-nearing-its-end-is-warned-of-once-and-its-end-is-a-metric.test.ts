import { describe, expect, it } from 'vitest';
import { DAY, FakeClock } from '../adapters/driven/clock/index.ts';
import { createRootCa } from '../adapters/driven/pki/index.ts';
import { openDataFolderSecureEnvironment, systemRandom } from '../adapters/runtime/index.ts';
import { ownerView } from '../domain/ports/index.ts';
import { pkiOf } from './support/pki-test-ca.ts';
import { startTestService, type TestService } from './support/service.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

/*
 * A CA's end was said only once it had come (the CA retired, review 82): nothing told the operator a month ahead, when
 * a renewal (credence ca renew) still keeps everything it issued valid. The service now warns once per CA and process
 * when its chain ends within 30 days, at start or at the PKI tick that finds it so, and /metrics gives each CA's end
 * (`credence_pki_ca_chain_end_timestamp_seconds{ca}`) for an alert.
 */
const SOON = 'sub-soon';
const LATER = 'sub-later';

const folder = temporaryFolders('credence-ca-soon-');

/** CA `default` for ten years, `sub-soon` for 20 days and `sub-later` for 40, all from `now`. */
const folderWithCas = async (now: Date): Promise<string> => {
  const made = folder();
  const se = openDataFolderSecureEnvironment(made, { now: () => now });
  try {
    const infra = ownerView(se, 'maf:infrastructure');
    await createRootCa({ dataDir: made, se: infra, id: 'default', kind: 'p256', now, random: systemRandom });
    await createRootCa({ dataDir: made, se: infra, id: SOON, kind: 'p256', now, random: systemRandom, validityDays: 20 });
    await createRootCa({ dataDir: made, se: infra, id: LATER, kind: 'p256', now, random: systemRandom, validityDays: 40 });
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
      // At start: the CA ending within 30 days, not the others
      expect(nearingWarnings(svc).map((w) => w['caId'])).toEqual([SOON]);
      const [warning] = nearingWarnings(svc);
      expect(warning!['endsAt']).toBe(new Date(now.getTime() + 20 * DAY).toISOString());
      expect(String(warning!['msg'])).toContain(`credence ca renew --id ${SOON}`);
      expect(JSON.stringify(warning)).not.toMatch(/key_|handle/i);

      const metrics = await (await fetch(`${svc.url}/metrics`)).text();
      for (const [ca, days] of [['default', 3650], [SOON, 20], [LATER, 40]] as const) {
        expect(metrics).toContain(`credence_pki_ca_chain_end_timestamp_seconds{ca="${ca}"} ${Math.floor(now.getTime() / 1000) + days * 86_400}`);
      }

      // A tick once `sub-later` is within 30 days: warned of once, however many ticks follow
      clock.advance(11 * DAY);
      await pkiOf(svc).tick();
      await pkiOf(svc).tick();
      expect(nearingWarnings(svc).map((w) => w['caId'])).toEqual([SOON, LATER]);
      expect(svc.logs().filter((l) => l.includes('PKI revocation failed'))).toEqual([]);
    } finally {
      await svc.close();
    }
  }, 60_000);
});
