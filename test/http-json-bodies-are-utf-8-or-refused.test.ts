import { describe, expect, it } from 'vitest';
import { useTestService } from './support/service.ts';

/*
 * RFC 8259 8.1: JSON between systems is UTF-8. A body with bytes that are not UTF-8 was read with U+FFFD in their
 * place and judged field by field (a resolution's reason would have stored the replacement), and a body declared in
 * another charset was read as UTF-8 all the same (found in review). Both are refused now, and nothing is written.
 */
describe('a JSON body', () => {
  const svc = useTestService();
  const send = (body: Buffer, contentType = 'application/json') =>
    fetch(`${svc.url}/v1/commands`, { method: 'POST', headers: { authorization: `Bearer ${svc.tokens.operator}`, 'content-type': contentType }, body });
  const registration = (nodeId: string, manufacturer: Buffer | string) =>
    Buffer.concat([
      Buffer.from(`{"type":"registerNode","data":{"nodeId":"${nodeId}","profile":{"class":"smart-meter","manufacturer":"`),
      typeof manufacturer === 'string' ? Buffer.from(manufacturer, 'utf8') : manufacturer,
      Buffer.from('","model":"SM-1","capabilities":[]}}}'),
    ]);
  const stored = async (nodeId: string) => (await svc.service.context.credence.store.readStream(`node-${nodeId}`)).length;

  it('with bytes that are not UTF-8 is refused naming the body, and nothing is written', async () => {
    const response = await send(registration('utf8-bad', Buffer.from([0x41, 0xff, 0xfe, 0x42])));
    expect(response.status).toBe(400);
    expect(response.headers.get('content-type')).toContain('application/problem+json');
    expect(((await response.json()) as { errors: { path: string; rule: string }[] }).errors).toEqual([expect.objectContaining({ path: 'body', rule: 'utf8' })]);
    expect(await stored('utf8-bad')).toBe(0);
  });

  it('declared in another charset is 415, and nothing is written', async () => {
    const response = await send(registration('latin1', 'Acme'), 'application/json; charset=latin1');
    expect(response.status).toBe(415);
    expect(((await response.json()) as { type: string }).type).toBe('https://credence.dev/problems/unsupported_media_type');
    expect(await stored('latin1')).toBe(0);
  });

  it('in UTF-8, declared or not, is read as sent', async () => {
    expect((await send(registration('utf8-declared', 'Åcme Zürich'), 'application/json; charset=UTF-8')).status).toBe(201);
    expect((await send(registration('utf8-plain', 'Åcme Zürich'))).status).toBe(201);
    const [event] = await svc.service.context.credence.store.readStream('node-utf8-plain');
    expect((event!.data as { profile: { manufacturer: string } }).profile.manufacturer).toBe('Åcme Zürich');
  });
});
