import { describe, expect, it } from 'vitest';
import { main } from '../bin/cli.ts';
import { problemServer } from './support/canned-server.ts';
import { capture } from './support/cli.ts';

/*
 * Found in review 54: a refused command printed each validation issue twice. The service writes a validation
 * refusal's detail as `<what>: <path>: <message>; …` (domain/errors.ts validationError, and adapters/http/problems.ts
 * for its schema's refusals) beside the same issues in `errors`, and the CLI printed the detail, then every issue.
 * Now the detail's lead is printed, then each issue once; a detail that says more than the issues is printed whole.
 */
describe('credence printing a validation refusal', () => {
  const refusing = problemServer(400);
  const cli = async (argv: string[]) => {
    const c = capture();
    const code = await main(argv, { ...c.io, env: { CREDENCE_URL: refusing.url, CREDENCE_TOKEN: 'a.b.c' } });
    return { code, lines: c.err };
  };
  const refuse = (detail: string, errors: { path: string; rule: string; message: string }[]) =>
    (refusing.body = JSON.stringify({ type: 'https://credence.dev/problems/validation', title: 'Invalid request', status: 400, detail, errors }));


  const ISSUES = [
    { path: 'body.data.profile', rule: 'invalid_type', message: 'Invalid input: expected object, received undefined' },
    { path: 'body.data.bogus', rule: 'unrecognized_keys', message: 'not allowed here' },
  ];

  it("prints each issue of the service's schema refusal once, under the detail's lead", async () => {
    refuse(`invalid request: ${ISSUES.map((i) => `${i.path}: ${i.message}`).join('; ')}`, ISSUES);
    const { code, lines } = await cli(['command', 'registerNode', '--data', '{"nodeId":"x"}']);
    expect(code).toBe(1);
    expect(lines).toEqual([
      'refused: Invalid request (400)',
      '  invalid request',
      '  body.data.profile: Invalid input: expected object, received undefined (rule invalid_type)',
      '  body.data.bogus: not allowed here (rule unrecognized_keys)',
    ]);
  });

  it("prints each issue of the engine's refusal once, an issue with no path among them", async () => {
    const issues = [...ISSUES, { path: '', rule: 'more_issues', message: '3 more issues not listed' }];
    refuse(`invalid command: ${issues.map((i) => `${i.path || '(root)'}: ${i.message}`).join('; ')}`, issues);
    const { lines } = await cli(['command', 'registerNode', '--data', '{"nodeId":"x"}']);
    expect(lines).toEqual([
      'refused: Invalid request (400)',
      '  invalid command',
      '  body.data.profile: Invalid input: expected object, received undefined (rule invalid_type)',
      '  body.data.bogus: not allowed here (rule unrecognized_keys)',
      '  (body): 3 more issues not listed (rule more_issues)',
    ]);
  });

  it('prints each issue once when the client cut the detail short, and a detail that says more than its issues whole', async () => {
    const long = Array.from({ length: 200 }, (_, n) => ({ path: `body.data.x${n}`, rule: 'unrecognized_keys', message: 'not allowed here' }));
    refuse(`invalid request: ${long.map((i) => `${i.path}: ${i.message}`).join('; ')}`, long);
    expect(JSON.parse(refusing.body).detail.length).toBeGreaterThan(4_000); // answers.ts ProblemJson cuts it there
    const cut = await cli(['command', 'registerNode', '--data', '{"nodeId":"x"}']);
    expect(cut.lines.slice(0, 3)).toEqual(['refused: Invalid request (400)', '  invalid request', '  body.data.x0: not allowed here (rule unrecognized_keys)']);
    expect(cut.lines).toHaveLength(2 + long.length);

    refuse('the body was refused: see the issues, and ask your operator', ISSUES);
    const other = await cli(['command', 'registerNode', '--data', '{"nodeId":"x"}']);
    expect(other.lines[1]).toBe('  the body was refused: see the issues, and ask your operator');
    expect(other.lines).toHaveLength(4);
  });
});
