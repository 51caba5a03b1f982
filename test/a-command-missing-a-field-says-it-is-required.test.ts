/**
 * A command that leaves out an instant it needs is told the field is required, with the form it takes, rather than
 * that the value is of the wrong form (review 205: `credence command issueCredential` without `notBefore` read "must
 * be an ISO 8601 date-time", as if one had been given). Said by the schema itself (domain/ids.ts Instant), so the
 * service's body schema, the engine and every front end say it alike; a value of another form is refused as before.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../bin/cli.ts';
import { parseCommand } from '../domain/commands/index.ts';
import { isCredenceError, type FieldIssue } from '../domain/errors.ts';
import { capture } from './support/cli.ts';
import { cmd, issueCredentialData, T0 } from './support/fleet.ts';
import { startTestService, type TestService } from './support/service.ts';

const issuesOf = (input: unknown): readonly FieldIssue[] => {
  try {
    parseCommand(input);
  } catch (error) {
    if (isCredenceError(error, 'validation') && error.problem.code === 'validation') return error.problem.issues;
    throw error;
  }
  throw new Error('parsed');
};

const withNotBefore = (notBefore?: string) => {
  const sent = cmd.issueCredential();
  const { notBefore: _, ...data } = sent.data as Record<string, unknown>;
  return { ...sent, data: notBefore === undefined ? data : { ...data, notBefore } };
};

describe('a command missing an instant', () => {
  it('is refused by the engine as required, naming the form it takes', () => {
    expect(issuesOf(withNotBefore()).find((i) => i.path === 'data.notBefore')).toEqual({
      path: 'data.notBefore',
      rule: 'invalid_type',
      message: 'is required: an ISO 8601 date-time',
    });
  });

  it('given in another form, is still refused as what it must be', () => {
    expect(issuesOf(withNotBefore('yesterday')).find((i) => i.path === 'data.notBefore')?.message).toBe('must be an ISO 8601 date-time');
  });

  describe('sent with credence command', () => {
    let svc: TestService;
    beforeAll(async () => {
      svc = await startTestService();
    });
    afterAll(async () => {
      await svc?.close();
    });

    it('is refused by the service as required, and the CLI says so', async () => {
      const { notBefore: _, ...data } = issueCredentialData('cred-1', 'meter-1', { notBefore: T0, notAfter: '2027-01-01T00:00:00.000Z' });
      const c = capture();
      const code = await main(['command', 'issueCredential', '--data', JSON.stringify(data)], { ...c.io, env: { CREDENCE_URL: svc.url, CREDENCE_TOKEN: svc.tokens.operator } });
      expect(code).toBe(1);
      expect(c.err.join('\n')).toContain('body.data.notBefore: is required: an ISO 8601 date-time');
    });
  });
});
