import { describe, expect, it } from 'vitest';
import { illFormedUnicodeIssue } from '../adapters/http/json-ill-formed-unicode.ts';
import { useTestService } from './support/service.ts';

/*
 * Review 92: a body in valid UTF-8 whose JSON escapes stand for a lone UTF-16 surrogate ("\ud800") was accepted; the
 * event log kept the text as sent, but the audit read model's SQLite TEXT column read it back as U+FFFD, so a timeline
 * showed another correlationId than the one signed and logged. Such a string value or member name is refused, rule
 * `well_formed_unicode`, and nothing is written; an astral character sent as an escape pair is one character, kept.
 */
describe('a JSON body', () => {
  const svc = useTestService();
  const send = (text: string) =>
    fetch(`${svc.url}/v1/commands`, { method: 'POST', headers: { authorization: `Bearer ${svc.tokens.operator}`, 'content-type': 'application/json' }, body: text });
  /** The command's JSON text with `extra` members after `type` and `dataExtra` inside its data: escapes stay as written. */
  const registration = (nodeId: string, extra = '', dataExtra = '', manufacturer = 'Acme') =>
    `{"type":"registerNode"${extra},"data":{"nodeId":"${nodeId}","profile":{"class":"smart-meter","manufacturer":"${manufacturer}","model":"SM-1","capabilities":[]}${dataExtra}}}`;
  const head = () => svc.service.context.credence.store.headPosition();
  const issuesOf = async (response: Response) => ((await response.json()) as { errors: { path: string; rule: string }[] }).errors;

  it.each([
    ['a correlationId', registration('ws-corr', ',"correlationId":"trace-\\ud800"'), 'body.correlationId'],
    ['a causationId', registration('ws-caus', ',"causationId":"\\udfff-cause"'), 'body.causationId'],
    ['a text field of the data', registration('ws-manufacturer', '', '', 'Acme\\ud83d'), 'body.data.profile.manufacturer'],
    ['a member name', registration('ws-name', '', ',"\\udc00x":1'), 'body.data.\\udc00x'],
  ])('with a lone surrogate in %s is refused naming it, rule well_formed_unicode, and nothing is written', async (_what, text, path) => {
    const before = await head();
    const response = await send(text);
    expect(response.status).toBe(400);
    expect(response.headers.get('content-type')).toContain('application/problem+json');
    expect(await issuesOf(response)).toEqual([expect.objectContaining({ path, rule: 'well_formed_unicode' })]);
    expect(await head()).toBe(before);
  });

  it('with an astral character sent as an escape pair is read as that character', async () => {
    const response = await send(registration('ws-astral', ',"correlationId":"trace-\\ud83d\\ude00"'));
    expect(response.status).toBe(201);
    const [event] = await svc.service.context.credence.store.readStream('node-ws-astral');
    expect(event!.metadata.correlationId).toBe('trace-\u{1F600}');
  });
});

describe('illFormedUnicodeIssue', () => {
  it.each([
    ['a top-level string', '\ud800', ''],
    ['an array item', ['a', ['b', 'c\udc00']], '1.1'],
    ['a high surrogate at the end', { a: { b: 'x\udbff' } }, 'a.b'],
    ['a low surrogate before a high one', { a: '\udc00\ud800' }, 'a'],
    ['a member name', { ok: 1, ['n\ud800']: 'fine' }, 'n\\ud800'],
  ])('names %s', (_what, value, path) => {
    expect(illFormedUnicodeIssue(value)).toMatchObject({ path, rule: 'well_formed_unicode' });
  });

  it('passes well-formed text, astral characters included, and values that are not text', () => {
    expect(illFormedUnicodeIssue({ a: ['\u{1F600}', 1, true, null, { '\u{10FFFF}': 'é' }], b: '' })).toBeUndefined();
  });
});
