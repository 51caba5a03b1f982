/**
 * Found in review 40: a refusal listed every issue, each in `errors` and again in `detail`, so a device message of
 * 4,000 unknown members (within the JSON value bound, and without a token) came back ten times larger than it was
 * sent (43 KB in, 435 KB out). A refusal now lists the first issues and counts the rest in one more.
 */
import { describe, expect, it } from 'vitest';
import { MAX_ISSUES_LISTED, validationError } from '../domain/errors.ts';
import { useTestService } from './support/service.ts';

const manyUnknownMembers = (count: number): string =>
  JSON.stringify(Object.fromEntries(Array.from({ length: count }, (_, i) => [`k${i}`, 0])));

describe('a refusal of a body with thousands of issues', () => {
  const svc = useTestService();

  it('lists the first issues and counts the rest, in errors and in detail', async () => {
    const body = manyUnknownMembers(4_000);
    const response = await fetch(`${svc.url}/v1/enrolment/hello`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    const text = await response.text();
    expect(response.status).toBe(400);
    const problem = JSON.parse(text) as { detail: string; errors: { path: string; rule: string; message: string }[] };
    expect(problem.errors).toHaveLength(MAX_ISSUES_LISTED + 1);
    expect(problem.errors.slice(0, MAX_ISSUES_LISTED).filter((e) => e.rule === 'unrecognized_key').length).toBeGreaterThan(0);
    const more = problem.errors.at(-1)!;
    expect(more.rule).toBe('more_issues');
    expect(more.message).toMatch(/^\d+ more issues not listed$/);
    expect(Number(more.message.split(' ')[0]) + MAX_ISSUES_LISTED).toBeGreaterThanOrEqual(4_000);
    expect(problem.detail).toContain('more issues not listed');
    // Smaller than what was sent: the answer no longer grows with the members.
    expect(text.length).toBeLessThan(body.length / 4);
  });
});

describe('validationError', () => {
  it('keeps every issue up to the bound', () => {
    const issues = Array.from({ length: MAX_ISSUES_LISTED }, (_, i) => ({ path: `f${i}`, rule: 'r', message: 'm' }));
    const error = validationError(issues);
    expect(error.problem.code === 'validation' && error.problem.issues).toEqual(issues);
  });

  it('counts the issues past the bound in one more', () => {
    const issues = Array.from({ length: 100 }, (_, i) => ({ path: `f${i}`, rule: 'r', message: 'm' }));
    const error = validationError(issues, 'thing');
    const listed = error.problem.code === 'validation' ? error.problem.issues : [];
    expect(listed).toHaveLength(MAX_ISSUES_LISTED + 1);
    expect(listed.at(-1)).toEqual({ path: '', rule: 'more_issues', message: `${100 - MAX_ISSUES_LISTED} more issues not listed` });
    expect(error.message).not.toContain('f99');
  });

  it('keeps the count of those left out when a refusal is wrapped again with its paths renamed', () => {
    const issues = Array.from({ length: 40 }, (_, i) => ({ path: `f${i}`, rule: 'r', message: 'm' }));
    const inner = validationError(issues, 'command');
    const wrapped = validationError(
      (inner.problem.code === 'validation' ? inner.problem.issues : []).map((i) => ({ ...i, path: `body.${i.path}` })),
      'command',
    );
    const listed = wrapped.problem.code === 'validation' ? wrapped.problem.issues : [];
    expect(listed).toHaveLength(MAX_ISSUES_LISTED + 1);
    expect(listed.at(-1)).toEqual({ path: '', rule: 'more_issues', message: `${40 - MAX_ISSUES_LISTED} more issues not listed` });
  });
});
