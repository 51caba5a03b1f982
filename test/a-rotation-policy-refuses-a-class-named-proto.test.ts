/**
 * The service's `pseudonyms` setting refuses a class named `__proto__` (review 281), but the library's RotationPolicy,
 * built by a library user outside that setting, took it and dropped it: zod's record parse skips that key, so
 * `{ classes: JSON.parse('{"__proto__": {...}}') }` parsed to a policy without the class, its nodes rotating on
 * `default`, without a word. RotationPolicy now refuses the key itself, naming `classes` and the key. `constructor`
 * and `prototype` are kept, as the service's setting keeps them (records keep them; policyFor reads own keys).
 */
import { describe, expect, it } from 'vitest';
import { policyFor, RotationPolicy } from '../projections/pseudonyms/policy.ts';

const WEEK = 604_800_000;

describe("the library's rotation policy, given a class named __proto__", () => {
  it('refuses it, naming classes and the key, rather than dropping it', () => {
    // JSON.parse makes `__proto__` an own key, as a policy read from a file has it; an object literal's would set the prototype.
    const classes = JSON.parse(`{"__proto__": {"everyMs": ${WEEK}, "onAssociation": true}, "gateway": {"everyMs": ${WEEK}}}`) as Record<string, unknown>;
    expect(Object.hasOwn(classes, '__proto__')).toBe(true);
    const parsed = RotationPolicy.safeParse({ classes });
    expect(parsed.success).toBe(false);
    expect(parsed.error?.issues).toEqual([
      expect.objectContaining({ code: 'custom', path: ['classes', '__proto__'], message: expect.stringContaining('"__proto__" cannot name a class') }),
    ]);
  });

  it('keeps classes named constructor and prototype, as own classes', () => {
    const classes = JSON.parse(`{"constructor": {"everyMs": ${WEEK}}, "prototype": {"onAssociation": true}}`) as Record<string, unknown>;
    const policy = RotationPolicy.parse({ classes });
    expect(policyFor(policy, 'constructor')).toEqual({ everyMs: WEEK, onAssociation: false });
    expect(policyFor(policy, 'prototype')).toEqual({ onAssociation: true });
    expect(policyFor(policy, 'toString')).toEqual(policy.default);
  });
});
