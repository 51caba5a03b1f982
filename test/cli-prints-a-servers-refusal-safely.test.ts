import { describe, expect, it } from 'vitest';
import { problemOf } from '../adapters/client/http.ts';
import { main } from '../bin/cli.ts';
import { problemServer } from './support/canned-server.ts';
import { capture } from './support/cli.ts';

/*
 * Found in review: a refusal's problem document was used as the server sent it. An extension member nested deeply
 * made JSON.stringify throw in the CLI's plain and --json output, and the refusal was lost ("error: Maximum call
 * stack size exceeded"); the title and detail were printed raw, so a server could write ESC and OSC sequences to the
 * operator's terminal. Now the document is parsed (adapters/client/answers.ts ProblemJson: bounded text, extensions
 * within MESSAGE_JSON_LIMITS, else a problem made of the status), and control characters are escaped when printed.
 */

/** Every control character but the line feeds of indented JSON: what must never reach a terminal from a server. */
const CONTROL = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/;

const ESCAPES = {
  type: 'about:blank',
  title: '\u001b]0;owned\u0007Conflict\u001b[2J',
  status: 409,
  detail: 'state is \u009b31mrevoked\u001b[0m\r\nrefused: nothing (0)',
  state: 'revoked\u001b]8;;http://evil.example\u0007',
  'al\u001blowed': ['\u007fexpire'],
  errors: [{ path: 'data.\u001b[1mnodeId', rule: 'x', message: 'bad\u0085' }],
};

describe('credence printing a server’s refusal', () => {
  const refusing = problemServer(409);
  const cli = async (argv: string[]) => {
    const c = capture();
    const code = await main(argv, { ...c.io, env: { CREDENCE_URL: refusing.url, CREDENCE_TOKEN: 'a.b.c' } });
    return { code, out: c.out.join('\n'), err: c.err.join('\n') };
  };


  it('keeps the refusal (exit 1) when an extension member is nested past any stack, in plain and --json output', async () => {
    const depth = 100_000;
    refusing.body = `{"type":"about:blank","title":"Conflict","status":409,"detail":"illegal","deep":${'['.repeat(depth)}${']'.repeat(depth)}}`;
    const plain = await cli(['projections']);
    expect(plain.code).toBe(1);
    expect(plain.err).toMatch(/^refused: Conflict \(409\)$/m);
    expect(plain.err).toMatch(/^ {2}the refusal's problem document is not readable: deep(\.0)+: nested deeper than 16 levels \(max_depth\)$/m);
    expect(plain.err).not.toMatch(/stack/);

    const json = await cli(['projections', '--json']);
    expect(json.code).toBe(1);
    expect(JSON.parse(json.out)).toMatchObject({ type: 'about:blank', title: 'Conflict', status: 409, detail: expect.stringMatching(/max_depth/) });
  });

  it('writes no control character a server sent to the terminal, in plain output', async () => {
    refusing.body = JSON.stringify(ESCAPES);
    const plain = await cli(['projections']);
    expect(plain.code).toBe(1);
    for (const line of plain.err.split('\n')) expect(line, JSON.stringify(line)).not.toMatch(CONTROL);
    expect(plain.err.split('\n')).toEqual([
      'refused: \\u001b]0;owned\\u0007Conflict\\u001b[2J (409)',
      '  state is \\u009b31mrevoked\\u001b[0m\\u000d\\u000arefused: nothing (0)',
      '  data.\\u001b[1mnodeId: bad\\u0085 (rule x)',
      '  state: revoked\\u001b]8;;http://evil.example\\u0007',
      '  al\\u001blowed: ["\\u007fexpire"]',
    ]);
  });

  it('writes no control character to the terminal with --json either, and the JSON is the server’s document', async () => {
    refusing.body = JSON.stringify(ESCAPES);
    const json = await cli(['projections', '--json']);
    expect(json.code).toBe(1);
    expect(json.out).not.toMatch(CONTROL);
    expect(JSON.parse(json.out)).toEqual({ ...ESCAPES, errors: [{ path: ESCAPES.errors[0]!.path, rule: 'x', message: ESCAPES.errors[0]!.message }] });
  });
});

describe('a refusal read by the client', () => {
  const refusal = (body: string) =>
    problemOf(new Response(body, { status: 400, statusText: 'Bad Request', headers: { 'content-type': 'application/problem+json' } }), body).problem;

  it('cuts a long title and detail, and keeps at most 1000 field issues, each of path, rule and message', () => {
    const errors = Array.from({ length: 5_000 }, (_, i) => ({ path: `data.f${i}`, rule: 'required', message: 'required', extra: { nested: [1] } }));
    const problem = refusal(JSON.stringify({ type: 'about:blank', title: 'T'.repeat(1_000), status: 400, detail: 'd'.repeat(100_000), errors }));
    expect(problem.title).toBe(`${'T'.repeat(300)}…`);
    expect(problem.detail).toBe(`${'d'.repeat(4_000)}…`);
    expect(problem['errors']).toHaveLength(1_000);
    expect((problem['errors'] as unknown[])[0]).toEqual({ path: 'data.f0', rule: 'required', message: 'required' });
  });

  it('leaves out a standard member of another type, keeping the rest of the refusal', () => {
    const problem = refusal(JSON.stringify({ type: 7, title: 'Conflict', status: '409', detail: { text: 'x' }, errors: 'none', state: 'revoked' }));
    expect(problem).toEqual({ type: 'about:blank', title: 'Conflict', status: 400, state: 'revoked' });
  });

  it.each([
    ['more values than the message limits', JSON.stringify({ title: 'x', many: Array.from({ length: 5_000 }, () => 0) }), /^the refusal's problem document is not readable: many: more than 4096 JSON values \(max_values\)$/],
    ['a title that is not text', JSON.stringify({ title: { $: 1 } }), /^the refusal's problem document is not readable: title: /],
  ])('is made of the status when the document has %s, naming the member and the rule', (_what, body, detail) => {
    const problem = refusal(body);
    expect(problem).toMatchObject({ type: 'about:blank', title: 'Bad Request', status: 400 });
    expect(problem.detail).toMatch(detail);
  });
});
