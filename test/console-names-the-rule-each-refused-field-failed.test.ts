import { describe, expect, it } from 'vitest';

/*
 * Review 130, finding 4: the console showed each field of a refusal as `path: message` and dropped the rule the
 * server named, so `invalid_format` and `position_range` read alike. The rule is now said with its field, put into the
 * server's detail where it names the field, and with each field the detail does not name.
 */

/**
 * Loaded by URL: the console's api.ts is typed against the DOM, which the service's tsconfig leaves out (as in
 * console-shows-a-refusals-reason-only-from-a-problem-document.test.ts).
 */
const { ApiError, describeError } = (await import(new URL('../adapters/console/src/api.ts', import.meta.url).href)) as {
  ApiError: new (status: number, problem: unknown, path: string) => Error;
  describeError: (error: unknown) => string;
};

const refused = (detail: string | undefined, errors: { path: string; rule?: string; message: string }[]) =>
  new ApiError(400, { title: 'Bad Request', status: 400, ...(detail !== undefined ? { detail } : {}), errors }, '/v1/compliance/revocations');

const TOO_FAR = 'a global position, at most 2^63 - 1 (9223372036854775807)';

describe('a refusal in the console', () => {
  it("names each field's rule where the server's detail names the field", () => {
    const error = refused(`invalid query: query.after: ${TOO_FAR}`, [{ path: 'query.after', rule: 'position_range', message: TOO_FAR }]);
    expect(describeError(error)).toBe(`Bad Request: invalid query: query.after (position_range): ${TOO_FAR}`);
  });

  it('names the rule of a field the detail does not name, after it', () => {
    const error = refused('invalid query', [{ path: 'query.days', rule: 'invalid_format', message: 'a number of days in decimal digits, e.g. 30 or 1.5' }]);
    expect(describeError(error)).toBe('Bad Request: invalid query (query.days (invalid_format): a number of days in decimal digits, e.g. 30 or 1.5)');
  });

  it('puts each rule at its own field, a path ending as another does included', () => {
    const error = refused('invalid body: data.id: is required; id: is required', [
      { path: 'id', rule: 'required', message: 'is required' },
      { path: 'data.id', rule: 'too_small', message: 'is required' },
    ]);
    expect(describeError(error)).toBe('Bad Request: invalid body: data.id (too_small): is required; id (required): is required');
  });

  it('says a field without a rule as before', () => {
    expect(describeError(refused(undefined, [{ path: 'query.from', message: 'an ISO date' }]))).toBe('Bad Request (query.from: an ISO date)');
  });
});
