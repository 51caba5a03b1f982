import { afterEach, describe, expect, it } from 'vitest';
import { FakeClock } from '../adapters/driven/clock/index.ts';
import { openCredence, type Credence } from '../adapters/runtime/index.ts';
import { register as lifecycleCommands } from '../bin/commands/lifecycle.ts';
import { runCommands } from '../bin/program.ts';
import { command } from '../domain/commands/index.ts';
import { eventIdFor } from '../domain/event-ids.ts';
import { ExpectedRevision } from '../domain/ports/event-store.ts';
import { nodePseudonym, resolvePseudonym } from '../projections/pseudonyms/index.ts';
import { replayAll } from '../projections/replay/index.ts';
import { settled } from './http-sse.fixtures.ts';
import { auditor, cmd, footprint, rejection, T0 } from './support/fleet.ts';
import { testKey } from './support/pseudonym-fleet.ts';
import { startTestService } from './support/service.ts';

/*
 * Review 146: a pseudonym resolution's `reason` is the accountability record (SER-025: why the identity is needed, a
 * case reference), kept for good in the PseudonymResolved event. Blank or invisible reasons (spaces, a line break,
 * NUL, a zero-width space, a right-to-left override) resolved the node and were recorded as the reason. A new
 * resolution now gives visible text on one line, or is refused (`validation`, rule `printable`) with nothing written:
 * over HTTP naming `body.reason`, to the engine `data.reason`, on the command line `--reason`. A history recorded
 * before the rule with such a reason still reads and replays.
 *
 * Review 147: that rule refused every format and default-ignorable character, so it also refused reasons auditors
 * write: a ZWNJ in Persian spelling, a ZWJ or VS16 in an emoji, a soft hyphen pasted from a document. Those now pass
 * where they shape visible text; out of place (a joiner not between two visible characters, a selector after a space)
 * they are refused naming the code point and its index, as the bidi marks, tag characters and blank fillers still are.
 */

const INVISIBLE_REASONS = [
  '   ', '\n', '\u0000', '\u200b', '\u202e', 'case 12\u202e21', '\t\u00a0\u3000',
  // Review 147: what the joiners, selectors and soft hyphen allowed now must still not do.
  '\u200d', '\u200ccase 1', 'case 1\u200d', 'case \u200d 1', 'a\u200d\u200db', '\ufe0f', 'case \ufe0f1', '\u00ad', '\u00ad\u00a0\u00ad',
  'case\u200f 12', 'a\u200eb', 'a\u061cb', 'case\u2066 1\u2069', 'case\u{E0041}', 'a\u2060b', '\ufeffcase', '\u3164', 'case \u3164', '\u2800', 'case\u2028 1',
] as const;

/** Reasons auditors write (review 147): Persian with ZWNJ, an emoji ZWJ sequence, VS16, a pasted soft hyphen, a combining accent, Hebrew and Arabic. */
const WRITTEN_REASONS = [
  'درخواست دادستانی برای پرونده‌ی ۱۲۳',
  'ticket 9 👩‍💻 on-call request',
  'incident 42 ⚠️',
  'Gerichts\u00adbeschluss 2026-17',
  'Affaire e\u0301te\u0301 2026-117',
  'בקשת בית המשפט לתיק 2026-117',
  'طلب المحكمة في القضية ٢٠٢٦-١١٧',
  'क्\u200dष case 5',
  '🏳️‍🌈 ❤️‍🔥 #️⃣ 🧑🏽‍💻 case 7',
] as const;

let credence: Credence | undefined;
afterEach(async () => {
  await credence?.close();
  credence = undefined;
});

/** A settled instance with one node and its first pseudonym. */
const withOneNode = async (): Promise<{ c: Credence; clock: FakeClock; pseudonym: string }> => {
  const clock = new FakeClock(T0);
  const c = (credence = openCredence({ location: { memory: true }, clock, pseudonyms: { key: testKey } }));
  for (const step of [cmd.createSubscription(), cmd.registerNode('meter-1')]) await c.engine.execute(step);
  await c.settle();
  const pseudonym = nodePseudonym(c.readModels, 'meter-1')?.pseudonym;
  expect(pseudonym).toMatch(/^p-[a-z2-7]{26}$/);
  return { c, clock, pseudonym: pseudonym! };
};

describe("a pseudonym resolution's reason", () => {
  it('given a pseudonym, when an auditor resolves it with a blank or invisible reason, then the engine refuses it naming data.reason and writes nothing', async () => {
    const { c, pseudonym } = await withOneNode();
    const before = await footprint(c.store);
    for (const reason of INVISIBLE_REASONS) {
      const error = await rejection(resolvePseudonym(c.engine, { pseudonym, reason, actor: auditor }));
      expect(error.problem, JSON.stringify(reason)).toMatchObject({ code: 'validation', issues: [{ path: 'data.reason', rule: 'printable' }] });
    }
    expect(await footprint(c.store)).toEqual(before);
    // Visible text, accents and other scripts included, still resolves.
    expect(await resolvePseudonym(c.engine, { pseudonym, reason: ' Fall 2026-117 (Störung, 東京) ', actor: auditor })).toMatchObject({ nodeId: 'meter-1' });
  });

  it('given a pseudonym, when an auditor resolves it with a reason written with joiners, variation selectors, a soft hyphen, a combining mark or right to left, then it resolves and the reason is recorded as written', async () => {
    const { c, pseudonym } = await withOneNode();
    for (const reason of WRITTEN_REASONS) {
      expect(await resolvePseudonym(c.engine, { pseudonym, reason, actor: auditor }), JSON.stringify(reason)).toMatchObject({ nodeId: 'meter-1' });
    }
    const recorded: string[] = [];
    for await (const e of c.store.readAll()) if (e.type === 'PseudonymResolved') recorded.push((e.data as { reason: string }).reason);
    expect(recorded).toEqual([...WRITTEN_REASONS]);
  });

  it('a refused character is named by its code point and index, a joiner or selector out of place included', async () => {
    const { c, pseudonym } = await withOneNode();
    for (const [reason, named] of [
      ['case 1\u200d', 'U+200D at index 6'],
      ['case \ufe0f1', 'U+FE0F at index 5'],
      ['case\u200f 12', 'U+200F at index 4'],
      ['👩‍💻\u200b', 'U+200B at index 5'],
      ['case\u{E0041}', 'U+E0041 at index 4'],
    ] as const) {
      const error = await rejection(resolvePseudonym(c.engine, { pseudonym, reason, actor: auditor }));
      expect(error.problem, JSON.stringify(reason)).toMatchObject({ code: 'validation', issues: [{ path: 'data.reason', rule: 'printable', message: expect.stringContaining(named) }] });
    }
  });

  it('POST /v1/pseudonyms/resolutions answers 400 naming body.reason and the rule, and writes nothing', async () => {
    const svc = await startTestService();
    try {
      const post = (path: string, token: string, body: unknown) =>
        fetch(`${svc.url}${path}`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
      for (const c of [cmd.createSubscription(), cmd.registerNode('meter-1')]) {
        expect((await post('/v1/commands', svc.tokens.operator, { type: c.type, data: c.data })).status, c.type).toBe(201);
      }
      await settled(svc);
      const pseudonym = nodePseudonym(svc.service.context.credence.readModels, 'meter-1')!.pseudonym;
      const before = await footprint(svc.service.context.credence.store);
      for (const reason of INVISIBLE_REASONS) {
        const answer = await post('/v1/pseudonyms/resolutions', svc.tokens.auditor, { pseudonym, reason, commandId: crypto.randomUUID() });
        expect(answer.status, JSON.stringify(reason)).toBe(400);
        expect(await answer.json(), JSON.stringify(reason)).toMatchObject({ status: 400, errors: [{ path: 'body.reason', rule: 'printable' }] });
      }
      expect(await footprint(svc.service.context.credence.store)).toEqual(before);
      expect((await post('/v1/pseudonyms/resolutions', svc.tokens.auditor, { pseudonym, reason: 'case 2026-117' })).status).toBe(200);
      for (const reason of WRITTEN_REASONS) {
        expect((await post('/v1/pseudonyms/resolutions', svc.tokens.auditor, { pseudonym, reason })).status, JSON.stringify(reason)).toBe(200);
      }
    } finally {
      await svc.close();
    }
  }, 60_000);

  it('credence pseudonym resolve --reason with a blank or invisible reason is bad usage naming --reason, before anything is sent', async () => {
    for (const reason of ['   ', '\u200b']) {
      const err: string[] = [];
      const code = await runCommands(
        [lifecycleCommands],
        ['pseudonym', 'resolve', `p-${'a'.repeat(26)}`, '--reason', reason, '--server', 'http://127.0.0.1:10', '--token', 'x'],
        { out: () => {}, err: (line) => err.push(line), env: {} },
      );
      expect(code, JSON.stringify(reason)).toBe(2);
      expect(err.join('\n'), JSON.stringify(reason)).toMatch(/--reason.*(no visible character|U\+200B)/s);
    }
    // A reason as auditors write it passes the parse and gets as far as the (unreachable) server.
    for (const reason of WRITTEN_REASONS) {
      const err: string[] = [];
      const code = await runCommands(
        [lifecycleCommands],
        ['pseudonym', 'resolve', `p-${'a'.repeat(26)}`, '--reason', reason, '--server', 'http://127.0.0.1:10', '--token', 'x'],
        { out: () => {}, err: (line) => err.push(line), env: {} },
      );
      expect(code, JSON.stringify(reason)).not.toBe(2);
      expect(err.join('\n'), JSON.stringify(reason)).not.toMatch(/--reason/);
    }
  });

  it('a history that recorded a resolution with an invisible reason before this rule still reads and replays', async () => {
    const { c, clock, pseudonym } = await withOneNode();
    // As a version before this rule stored it: an auditor's resolvePseudonym, reason a zero-width space.
    const commandId = crypto.randomUUID();
    await c.store.appendToStream(`pseudonym-${pseudonym}`, [{
      id: eventIdFor(commandId, 0), type: 'PseudonymResolved', data: { pseudonym, reason: '\u200b' },
      metadata: { schemaVersion: 1, actor: auditor, commandId, commandType: 'resolvePseudonym', correlationId: commandId, causationId: commandId, occurredAt: clock.now().toISOString() },
    }], { expectedRevision: ExpectedRevision.any });
    await c.settle();
    expect((await c.engine.view('pseudonym', pseudonym)).context).toMatchObject({ nodeId: 'meter-1', resolutions: 1 });
    expect((await replayAll(c.store)).findings).toEqual([]);
    let read = 0;
    for await (const e of c.store.readAll()) if (e.type === 'PseudonymResolved' && (e.data as { reason: string }).reason === '\u200b') read++;
    expect(read).toBe(1);
    // A new one with that reason is refused all the same.
    const refused = await rejection(c.engine.execute(command('resolvePseudonym', { pseudonym, reason: '\u200b' }, { actor: auditor })));
    expect(refused.problem).toMatchObject({ code: 'validation', issues: [{ path: 'data.reason', rule: 'printable' }] });
  });
});
