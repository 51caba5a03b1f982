import { describe, expect, it } from 'vitest';
import { AeId, AppId, CseId, NodeId } from '../domain/ids.ts';

/**
 * Review 343: an App-ID that starts with R but is too long or carries a space or an accent was told it "must start
 * with R (registered) or N (non-registered)", and an AE-ID was told "followed by a token" without saying what a token
 * is. Each message now states the prefix, the characters allowed and the length, as Node-ID's does.
 */
const messageOf = (schema: { safeParse: (v: unknown) => { success: boolean; error?: { issues: { message: string }[] } } }, value: string): string => {
  const r = schema.safeParse(value);
  expect(r.success).toBe(false);
  return r.error?.issues[0]?.message ?? '';
};

describe('an id format error says the characters and length allowed', () => {
  it.each([
    ['too long', `R${'a'.repeat(128)}`],
    ['a space', 'Rbill ing'],
    ['an accented letter', 'Rbillé'],
    ['neither R nor N', 'app-01'],
  ])('App-ID with %s', (_, value) => {
    const message = messageOf(AppId, value);
    expect(message).toMatch(/^App-ID must start with R \(registered\) or N \(non-registered\)/);
    expect(message).toContain('letters, digits and . _ : ~ -');
    expect(message).toContain('1 to 128 characters');
  });

  it.each([
    ['too long', `C${'a'.repeat(128)}`],
    ['a space', 'Cbill ing'],
    ['neither C nor S', 'ae-01'],
  ])('AE-ID with %s', (_, value) => {
    const message = messageOf(AeId, value);
    expect(message).toMatch(/^AE-ID must start with C \(CSE-assigned\) or S \(SP-assigned\)/);
    expect(message).not.toContain('token');
    expect(message).toContain('letters, digits and . _ : ~ -');
    expect(message).toContain('1 to 128 characters');
  });

  it.each([
    ['too long', `/${'a'.repeat(129)}`],
    ['a space', '/in cse'],
    ['no leading /', 'in-cse'],
  ])('CSE-ID with %s', (_, value) => {
    const message = messageOf(CseId, value);
    expect(message).toMatch(/^CSE-ID must be "\/" followed by/);
    expect(message).not.toContain('token');
    expect(message).toContain('letters, digits and . _ : ~ -');
    expect(message).toContain('1 to 128');
  });

  it('the longest ids allowed are still accepted, and Node-ID keeps its message', () => {
    expect(AppId.safeParse(`R${'a'.repeat(127)}`).success).toBe(true);
    expect(AeId.safeParse(`S${'a'.repeat(127)}`).success).toBe(true);
    expect(CseId.safeParse(`/${'a'.repeat(128)}`).success).toBe(true);
    expect(messageOf(NodeId, 'node 1')).toBe('Node-ID must be letters, digits and . _ : ~ - (1 to 128, starting with a letter or digit)');
  });
});
