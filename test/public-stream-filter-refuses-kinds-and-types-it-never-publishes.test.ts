import { describe, expect, it } from 'vitest';
import { isCredenceError, type FieldIssue } from '../domain/errors.ts';
import { EVENT_KIND, EVENT_TYPES } from '../domain/events/index.ts';
import { ENTITY_KINDS } from '../domain/streams.ts';
import { PUBLIC_DATA } from '../projections/pseudonyms/index.ts';
import { parseLifecycleFilter, parsePublicFilter } from '../projections/streams/filter.ts';

/*
 * Found in review (SER-001): on the pseudonymised stream `kind=pseudonym` or `type=PseudonymRotated` was accepted and
 * then stayed silent forever (the allow-list never publishes PseudonymRotated or PseudonymResolved), holding one of
 * the few pseudonymised slots. Such a filter is now refused as the canonical filter refuses a combination that can
 * never match: a validation problem naming the value and the rule.
 */

const issuesOf = (input: unknown): readonly FieldIssue[] => {
  try {
    parsePublicFilter(input);
  } catch (error) {
    if (isCredenceError(error, 'validation') && error.problem.code === 'validation') return error.problem.issues;
    throw error;
  }
  return [];
};

const unpublishedTypes = EVENT_TYPES.filter((type) => PUBLIC_DATA[type] === null);

describe('the pseudonymised stream filter', () => {
  it('refuses a kind none of whose events is published, naming the value and the rule', () => {
    expect(issuesOf({ kinds: ['node', 'pseudonym'] })).toEqual([
      expect.objectContaining({ path: 'kinds.1', rule: 'not_published' }),
    ]);
  });

  it('refuses each type the allow-list never publishes', () => {
    expect(unpublishedTypes).toEqual(expect.arrayContaining(['PseudonymRotated', 'PseudonymResolved']));
    for (const type of unpublishedTypes) {
      expect(issuesOf({ types: ['NodeRegistered', type] })).toEqual([
        expect.objectContaining({ path: 'types.1', rule: 'not_published' }),
      ]);
    }
  });

  it('accepts every type the allow-list publishes, and every kind that has one', () => {
    const published = EVENT_TYPES.filter((type) => PUBLIC_DATA[type] !== null);
    expect(issuesOf({ types: published })).toEqual([]);
    const kinds = ENTITY_KINDS.filter((kind) => published.some((type) => EVENT_KIND[type] === kind));
    expect(kinds).toContain('node');
    expect(issuesOf({ kinds })).toEqual([]);
    expect(issuesOf({})).toEqual([]);
  });

  it('refuses canonical stream ids as not public', () => {
    expect(issuesOf({ streams: ['node-n1'] })).toEqual([expect.objectContaining({ path: 'streams', rule: 'not_public' })]);
  });

  it('still refuses what the lifecycle filter refuses', () => {
    expect(issuesOf({ kinds: ['node'], types: ['CredentialIssued'] })).toEqual([expect.objectContaining({ path: 'types.0' })]);
  });

  it('leaves the canonical stream free to ask for pseudonym events (operators and auditors see them)', () => {
    expect(parseLifecycleFilter({ kinds: ['pseudonym'], types: ['PseudonymRotated'] }).types).toEqual(['PseudonymRotated']);
  });
});
