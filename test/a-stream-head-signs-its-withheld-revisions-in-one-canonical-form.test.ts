import { describe, expect, it } from 'vitest';
import { formatStreamHeadText, parseStreamHeadText, withheldRanges, type StreamHead } from '../domain/transparency/stream-head.ts';

/*
 * Found in review (after review 172): which revisions a bundle carries withheld was the exporter's word. The stream
 * head now signs them on one extra line; a head without any is byte for byte the five lines it always was.
 */

const base: StreamHead = {
  origin: 'credence.example/log',
  treeSize: 40,
  rootHash: new Uint8Array(32).fill(1),
  streamId: 'node-meter-1',
  events: 12,
  streamRoot: new Uint8Array(32).fill(2),
};
const FIVE_LINES =
  'credence-stream-head/v1\norigin credence.example/log\n' +
  `tree 40 ${Buffer.from(base.rootHash).toString('base64')}\nstream node-meter-1\nevents 12 ${Buffer.from(base.streamRoot).toString('base64')}\n`;

describe('a stream head signs the revisions withheld from its bundles', () => {
  it('is the five lines it always was when nothing is withheld', () => {
    expect(formatStreamHeadText(base)).toBe(FIVE_LINES);
    expect(formatStreamHeadText({ ...base, withheld: [] })).toBe(FIVE_LINES);
    expect(parseStreamHeadText(FIVE_LINES)).toMatchObject({ ok: true, head: { events: 12, withheld: [] } });
  });

  it('adds one withheld line of merged ranges, which parses back to itself', () => {
    const withheld = withheldRanges([3, 4, 5, 9].map((revision) => ({ revision, reason: 'pseudonym_claimant' as const })));
    expect(withheld).toEqual([
      { reason: 'pseudonym_claimant', first: 3, last: 5 },
      { reason: 'pseudonym_claimant', first: 9, last: 9 },
    ]);
    const text = formatStreamHeadText({ ...base, withheld });
    expect(text).toBe(`${FIVE_LINES}withheld pseudonym_claimant 3-5,9\n`);
    expect(parseStreamHeadText(text)).toMatchObject({ ok: true, head: { withheld } });
  });

  it('refuses a withheld line in any other spelling, of an unknown reason, or past the event count', () => {
    for (const line of ['3,4', '3-3', '9,3', '3-5,5', '03', '12', '3-12', '', '3 4', '5-3']) {
      expect(parseStreamHeadText(`${FIVE_LINES}withheld pseudonym_claimant ${line}\n`), line).toMatchObject({ ok: false });
    }
    expect(parseStreamHeadText(`${FIVE_LINES}withheld another_reason 3\n`)).toMatchObject({ ok: false });
    expect(parseStreamHeadText(`${FIVE_LINES}withheld pseudonym_claimant 3\nwithheld pseudonym_claimant 5\n`)).toMatchObject({ ok: false });
    expect(() => formatStreamHeadText({ ...base, withheld: [{ reason: 'pseudonym_claimant', first: 3, last: 12 }] })).toThrow();
  });

  // Review 180: a head of 200,000 withheld ranges (a bundle a verifier without a pinned key is handed) overflowed the
  // stack spreading them, an untyped RangeError out of every verifier; more ranges than events is refused unread.
  it('parses a head of very many withheld ranges, and refuses more ranges than events as malformed', () => {
    const events = 400_000;
    const ranges = Array.from({ length: events / 2 }, (_, i) => String(i * 2)).join(',');
    const many = `${FIVE_LINES.replace('events 12', `events ${events}`).replace('tree 40', `tree ${events}`)}withheld pseudonym_claimant ${ranges}\n`;
    const parsed = parseStreamHeadText(many);
    expect(parsed.ok).toBe(true);
    expect(parsed.ok && parsed.head.withheld?.length).toBe(events / 2);
    const tooMany = `${FIVE_LINES}withheld pseudonym_claimant ${Array.from({ length: 13 }, (_, i) => String(i)).join(',')}\n`;
    expect(parseStreamHeadText(tooMany)).toMatchObject({ ok: false });
  });
});
