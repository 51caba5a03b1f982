import { describe, expect, it } from 'vitest';
import { isCredenceError } from '../domain/errors.ts';
import { associationLifetime } from '../domain/protocols/association-lifetime.ts';

const now = new Date('2030-01-01T00:00:00.000Z');
const grant = (requestedSeconds: number, credentialNotAfter: string, marginSeconds: number) =>
  associationLifetime({ requestedSeconds, credentialNotAfter, now, marginSeconds, step: 'association.finish' });

describe('association lifetime = min(requested, remaining - margin), strictly shorter than the credential (clause 11.3.2)', () => {
  it.each([
    // requested, notAfter, margin, granted
    [600, '2030-01-02T00:00:00.000Z', 60, 600],
    [86_400, '2030-01-02T00:00:00.000Z', 60, 86_339],
    [86_400, '2030-01-02T00:00:00.000Z', 0, 86_399],
    [86_399, '2030-01-02T00:00:00.000Z', 0, 86_399],
    [100, '2030-01-01T00:01:40.500Z', 0, 100],
    [101, '2030-01-01T00:01:40.500Z', 0, 100],
    [3600, '2030-01-01T00:01:01.000Z', 60, 0],
    [3600, '2030-01-01T00:01:00.000Z', 60, 0],
  ])('requested %is, credential until %s, margin %is: granted %is', (requested, notAfter, margin, granted) => {
    if (granted === 0) {
      expect(() => grant(requested, notAfter, margin)).toThrow('association.finish rejected: lifetime_exhausted');
      return;
    }
    const result = grant(requested, notAfter, margin);
    expect(result.lifetimeSeconds).toBe(granted);
    expect(Date.parse(result.expiresAt)).toBeLessThan(Date.parse(notAfter));
    expect(Date.parse(result.expiresAt) - now.getTime()).toBe(granted * 1000);
  });

  it('never grants the whole remaining lifetime, for any request and remaining time', () => {
    for (let remainingMs = 1001; remainingMs < 20_000; remainingMs += 377) {
      const notAfter = new Date(now.getTime() + remainingMs).toISOString();
      for (const requested of [1, 5, 19, 20, 1000]) {
        const result = grant(requested, notAfter, 0);
        expect(result.lifetimeSeconds).toBeLessThanOrEqual(requested);
        expect(result.lifetimeSeconds * 1000).toBeLessThan(remainingMs);
      }
    }
  });

  it('refuses with a typed protocol error when the credential has already expired', () => {
    try {
      grant(60, '2029-12-31T23:59:59.000Z', 0);
      expect.unreachable();
    } catch (error) {
      expect(isCredenceError(error, 'protocol') && error.problem).toMatchObject({ step: 'association.finish', reason: 'lifetime_exhausted' });
    }
  });

  it('a non-positive or fractional request is a programming error naming the argument', () => {
    expect(() => grant(0, '2031-01-01T00:00:00.000Z', 0)).toThrow('requestedSeconds must be a positive integer');
    expect(() => grant(1.5, '2031-01-01T00:00:00.000Z', 0)).toThrow('requestedSeconds must be a positive integer');
  });
});
