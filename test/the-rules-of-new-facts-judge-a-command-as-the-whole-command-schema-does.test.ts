/**
 * The rules of new facts (free text visible on one line, a capability named once) are checked through a compiled
 * schema first and, for a command they refuse, by the runtime one that names the issues (a command's cost on the
 * benches). A compiled schema taking what the runtime one refuses would let a control character or a repeated
 * capability into a stored event silently: for any command the schema as sent takes, newCommandRefusal must refuse
 * exactly what the whole CommandSchema refuses (review 362).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { command, CommandSchema, newCommandRefusal, SentCommandSchema } from '../domain/commands/index.ts';

const OPERATOR = { actor: { id: 'operator:alice', role: 'operator' }, commandId: '0b8f7c1e-3a6d-4f2b-9c5e-7d1a2b3c4d5e' } as never;

/** Text around the rules: visible text, controls, bidi overrides, fillers, joiners, combining marks, at the bounds. */
const text = fc.oneof(
  fc.string({ minLength: 1, maxLength: 66 }),
  fc.string({ unit: fc.constantFrom('a', ' ', '\t', '\u0007', '\u202e', '\u3164', '\u2800', '\u200d', '\ufe0f', '\u00ad', '\u0301', '\ud800', 'é'), minLength: 1, maxLength: 66 }),
);

describe('the rules of new facts', () => {
  it('refuse a registerNode exactly as the whole command schema does', () => {
    fc.assert(
      fc.property(text, text, text, fc.array(fc.constantFrom('metering', 'valve', 'Metering'), { maxLength: 4 }), (cls, manufacturer, model, capabilities) => {
        const sent = command('registerNode', { nodeId: 'meter-1', profile: { class: cls, manufacturer, model, capabilities } } as never, OPERATOR);
        const asSent = SentCommandSchema.safeParse(sent);
        fc.pre(asSent.success);
        expect(newCommandRefusal(asSent.data as never) === undefined).toBe(CommandSchema.safeParse(sent).success);
      }),
      { numRuns: 3000, seed: 362 },
    );
  });

  it('refuse a createSubscription exactly as the whole command schema does', () => {
    fc.assert(
      fc.property(text, (subscriber) => {
        const sent = command('createSubscription', { subscriptionId: 's-1', subscriber, notBefore: '2026-01-01T00:00:00.000Z', notAfter: '2027-01-01T00:00:00.000Z' } as never, OPERATOR);
        const asSent = SentCommandSchema.safeParse(sent);
        fc.pre(asSent.success);
        expect(newCommandRefusal(asSent.data as never) === undefined).toBe(CommandSchema.safeParse(sent).success);
      }),
      { numRuns: 3000, seed: 362 },
    );
  });
});
