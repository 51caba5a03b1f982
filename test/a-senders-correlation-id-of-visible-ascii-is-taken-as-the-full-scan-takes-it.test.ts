/**
 * A sender's correlation and causation ids of visible ASCII are taken without SenderCorrelationId's scan (it ran for
 * every command an operator or the infrastructure sends once review 342 moved the rule into decide(), some 4 µs a
 * command on the rotation bench). The shortcut must take only what the scan takes, and leave every other id to it.
 */
import { describe, expect, it } from 'vitest';
import { senderTextRefusal, SenderCorrelationId } from '../domain/commands/free-text.ts';

describe("a sender's correlation id", () => {
  it('of any visible ASCII character, at the bounds of its length, is taken, as the scan takes it', () => {
    const texts = [...Array.from({ length: 0x7e - 0x21 + 1 }, (_, i) => String.fromCharCode(0x21 + i)), '~'.repeat(200), crypto.randomUUID()];
    for (const text of texts) {
      expect(SenderCorrelationId.safeParse(text).success, text).toBe(true);
      expect(senderTextRefusal({ correlationId: text, causationId: text }), text).toBeUndefined();
    }
  });

  it('of anything else is still judged by the scan, naming the rule', () => {
    for (const text of ['a\tb', 'a b\u0007', '\u202eabc', 'x'.repeat(201), ' ']) {
      const refusal = senderTextRefusal({ correlationId: text });
      expect(refusal === undefined, JSON.stringify(text)).toBe(SenderCorrelationId.safeParse(text).success);
    }
    expect(senderTextRefusal({ correlationId: 'a\tb' })?.problem).toMatchObject({ code: 'validation', issues: [{ path: 'metadata.correlationId', rule: 'printable' }] });
  });
});
