import { afterEach, describe, expect, it } from 'vitest';
import { openTransparencyLogInDir } from '../adapters/driven/transparency/index.ts';
import { formatCheckpointText, openCheckpoint, parseCheckpointText } from '../domain/transparency/index.ts';
import { signCheckpoint, signNote } from '../projections/transparency/index.ts';
import { ORIGIN, fixedSigner, keyOf, tempDirs } from './transparency-fixtures.ts';

/*
 * A checkpoint's time line was checked for its shape and for Date.parse not being NaN, so `2026-02-31T00:00:00Z` was
 * accepted (Date.parse rolls it over to 3 March): a signed checkpoint could name a day that does not exist. The
 * signer writes Date#toISOString, so the parser takes what it writes and nothing that is not a real instant.
 */

const signer = fixedSigner();
const dirs = tempDirs();
afterEach(() => dirs.cleanup());

const ROOT = 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=';
const textWith = (time: string): string => `${ORIGIN}\n3\n${ROOT}\ntime ${time}\n`;

describe('a checkpoint time is a real calendar instant in RFC 3339 UTC', () => {
  it.each([
    ['2026-02-31T00:00:00Z', 'day 31 is not a day of 2026-02'],
    ['2026-02-29T00:00:00Z', 'day 29 is not a day of 2026-02'],
    ['1900-02-29T00:00:00Z', 'day 29 is not a day of 1900-02'],
    ['2026-04-31T12:00:00Z', 'day 31 is not a day of 2026-04'],
    ['2026-01-00T12:00:00Z', 'day 00 is not a day of 2026-01'],
    ['2026-00-10T12:00:00Z', 'month 00 is not 01-12'],
    ['2026-13-01T12:00:00Z', 'month 13 is not 01-12'],
    ['2026-03-01T24:00:00Z', 'hour 24 is not 00-23'],
    ['2026-03-01T23:60:00Z', 'minute 60 is not 00-59'],
    ['2026-12-31T23:59:60Z', "second 60 is not 00-59 (no leap second: the signer's clock has none)"],
    ['2026-03-01T12:00:00+00:00', 'not of the form YYYY-MM-DDTHH:MM:SS[.fraction]Z'],
    ['2026-03-01 12:00:00Z', 'not of the form YYYY-MM-DDTHH:MM:SS[.fraction]Z'],
  ])('refuses %s: %s', (time, why) => {
    expect(parseCheckpointText(textWith(time))).toEqual({ ok: false, reason: `time is not an RFC 3339 UTC instant: ${why}` });
    // The signer's side refuses to write it too.
    expect(() => formatCheckpointText({ origin: ORIGIN, treeSize: 3, rootHash: new Uint8Array(32), time })).toThrow(why);
  });

  it.each(['2028-02-29T00:00:00Z', '2000-02-29T23:59:59.999Z', '2026-12-31T23:59:59Z', '2026-01-01T00:00:00.123456789Z', '2026-04-30T08:30:00.5Z'])(
    'accepts %s',
    (time) => {
      const parsed = parseCheckpointText(textWith(time));
      expect(parsed.ok && parsed.checkpoint.time).toBe(time);
    },
  );

  it('refuses a signed checkpoint with an impossible day in the offline verifier', async () => {
    const note = await signNote(signer, textWith('2026-02-31T00:00:00Z'));
    expect(openCheckpoint(note, keyOf(signer))).toMatchObject({ ok: false, reason: 'malformed_checkpoint', message: expect.stringContaining('day 31 is not a day of 2026-02') });
  });

  it('accepts what the signer writes, its clock at the edges of days, months and leap years', async () => {
    for (const at of ['2028-02-29T23:59:59.999Z', '2026-12-31T23:59:59.999Z', '2027-01-01T00:00:00.000Z', '2026-03-01T00:00:00.001Z']) {
      const log = openTransparencyLogInDir(dirs.make());
      try {
        const checkpoint = await signCheckpoint({ log, signer, origin: ORIGIN, now: () => new Date(at) });
        const opened = openCheckpoint(checkpoint.note, keyOf(signer));
        expect(opened.ok && opened.checkpoint.time).toBe(at);
      } finally {
        log.close();
      }
    }
  });
});
