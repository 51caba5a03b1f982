import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { RULES_SINCE } from '../projections/replay/machines-fingerprint.ts';

/*
 * Review 347: every replay finding by a rule in RULES_SINCE ends "see docs/service.md, Upgrading", but version 14's
 * three rules had no entry there saying what their findings mean and what to check. Each version that added a rule
 * has its "Version N" entry in that section, and the entry names the rule and the event it refuses.
 */

const upgrading = (): string => {
  const doc = readFileSync(new URL('../docs/service.md', import.meta.url), 'utf8');
  const start = doc.indexOf('#### Upgrading');
  const end = doc.indexOf('\n### ', start);
  expect(start).toBeGreaterThan(-1);
  return doc.slice(start, end);
};

describe('the upgrading notes have an entry for every version that added a replay rule (review 347)', () => {
  it.each(RULES_SINCE.map((r) => [r.since, r.eventType, r.rule] as const))('%s: %s by rule %s', (since, eventType, rule) => {
    const notes = upgrading();
    const version = Number(since.split(':v')[1]);
    const entry = notes.search(new RegExp(`Version ${version}\\s`));
    expect(entry, `no "Version ${version}" entry`).toBeGreaterThan(-1);
    const next = notes.slice(entry).search(new RegExp(`Version ${version + 1}\\s`));
    const text = notes.slice(entry, next === -1 ? undefined : entry + next);
    expect(text).toContain(`\`${rule}\``);
    expect(text).toContain(`\`${eventType}\``);
  });
});
