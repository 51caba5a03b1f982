/**
 * Found in review 281: a `pseudonyms.classes` entry named `__proto__` was accepted and then gone (zod's record parse
 * skips that key, as assigning it to an object would set its prototype), so nodes of that profile class rotated on
 * `default` (daily) while the file said otherwise, without a word. It is refused, naming the key. `constructor` and
 * `prototype` are kept like any other name (probed here: they were never dropped).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadServiceConfig, serviceConfig } from '../adapters/http/config.ts';
import { isCredenceError } from '../domain/errors.ts';
import { policyFor } from '../projections/pseudonyms/policy.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

const folder = temporaryFolders('credence-config-proto-class-');
const WEEK = 604_800_000;

const fileWith = (classes: string): string => {
  const file = join(folder(), 'credence.json');
  writeFileSync(file, `{"pseudonyms": {"classes": ${classes}}}`);
  return file;
};

const refusalOf = (file: string): { path: string; rule: string; message: string }[] => {
  try {
    loadServiceConfig({ file });
  } catch (error) {
    if (isCredenceError(error, 'validation') && error.problem.code === 'validation') {
      return error.problem.issues.map(({ path, rule, message }) => ({ path: path.replace(file, 'F'), rule, message }));
    }
    throw error;
  }
  throw new Error('expected a refusal');
};

describe('a pseudonym class named __proto__', () => {
  it('is refused naming the key, not accepted and dropped', () => {
    expect(refusalOf(fileWith(`{"__proto__": {"everyMs": ${WEEK}}, "gateway": {"everyMs": ${WEEK}}}`))).toEqual([
      { path: 'file F: pseudonyms.classes.__proto__', rule: 'reserved_name', message: expect.stringContaining('__proto__') },
    ]);
  });

  it('is refused where the setting is given in code, as an own key JSON.parse made', () => {
    const classes = JSON.parse('{"__proto__": {"onAssociation": true}}') as Record<string, { onAssociation: boolean }>;
    expect(Object.hasOwn(classes, '__proto__')).toBe(true);
    expect(() => serviceConfig({ pseudonyms: { classes } })).toThrow(/pseudonyms\.classes\.__proto__/);
  });

  it.each(['constructor', 'prototype', 'toString', 'hasOwnProperty'])('keeps a class named %s, and its nodes follow it', (name) => {
    const config = loadServiceConfig({ file: fileWith(`{"${name}": {"everyMs": ${WEEK}, "onAssociation": true}}`) });
    expect(Object.hasOwn(config.pseudonyms.classes, name)).toBe(true);
    expect(policyFor(config.pseudonyms, name)).toEqual({ everyMs: WEEK, onAssociation: true });
    expect(policyFor(config.pseudonyms, 'other')).toEqual({ everyMs: 86_400_000, onAssociation: false });
  });
});
