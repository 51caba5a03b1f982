import { Writable } from 'node:stream';
import Fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import { loggerOptions, REDACTED } from '../adapters/http/logging.ts';

/*
 * Review 252: the logger redacted secret-named fields of plain objects only. An error logged as `err` (a request's
 * 500, a live component's failure) went through pino's own serializer, past the formatter, and every enumerable field
 * of it was written: `psk`, a session key's bytes, a request's authorization header.
 */
const logged = (write: (log: ReturnType<typeof Fastify>['log']) => void): string => {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(chunk.toString('utf8'));
      done();
    },
  });
  const app = Fastify({ logger: loggerOptions('trace', stream) });
  write(app.log);
  return lines.join('');
};

describe('log lines redact secret-named fields of errors', () => {
  it("writes an error's type, message and stack, and none of its secret fields, at any depth or in its cause", () => {
    const cause = Object.assign(new Error('the store failed'), { password: 'CAUSE-PASSWORD' });
    const error = Object.assign(new Error('receipt step failed', { cause }), {
      psk: 'PSK-SECRET-HEX',
      sessionKey: Buffer.from('SESSION-KEY-BYTES'),
      request: { headers: { authorization: 'Bearer eyJhbGciOiJFZERTQSJ9.e30.c2ln' } },
      credentialId: 'meter-1-psk',
    });
    const text = logged((log) => log.error({ err: error }, 'request failed'));
    for (const secret of ['PSK-SECRET-HEX', 'SESSION-KEY-BYTES', Buffer.from('SESSION-KEY-BYTES').toJSON().data.join(','), 'eyJhbGciOiJFZERTQSJ9', 'CAUSE-PASSWORD']) {
      expect(text).not.toContain(secret);
    }
    const line = JSON.parse(text) as { err: Record<string, unknown> };
    expect(line.err).toMatchObject({ type: 'Error', message: 'receipt step failed', psk: REDACTED, sessionKey: REDACTED, credentialId: 'meter-1-psk' });
    expect(String(line.err['stack'])).toContain('receipt step failed');
    expect(line.err['cause']).toMatchObject({ message: 'the store failed', password: REDACTED });
  });

  it("keeps an AggregateError's errors and redacts a class instance's or a raw header list's secrets on an error (review 255)", () => {
    class Settings {
      constructor(readonly host: string, readonly password: string, readonly headers: Record<string, string>) {}
    }
    const inner = Object.assign(new Error('first failed'), { token: 'INNER-TOKEN' });
    const error = Object.assign(new AggregateError([inner, new Error('second failed')], 'all failed'), {
      settings: new Settings('db.local', 'CLASS-PASSWORD', { authorization: 'Bearer CLASS-AUTH' }),
      raw: ['content-type', 'application/json', 'authorization', 'Bearer RAW-AUTH'],
      at: new Date('2026-12-06T00:00:00Z'),
    });
    const text = logged((log) => log.error({ err: error }, 'request failed'));
    for (const secret of ['INNER-TOKEN', 'CLASS-PASSWORD', 'CLASS-AUTH', 'RAW-AUTH']) expect(text).not.toContain(secret);
    const line = JSON.parse(text) as { err: Record<string, unknown> };
    expect(line.err['aggregateErrors']).toEqual([
      expect.objectContaining({ message: 'first failed', token: REDACTED }),
      expect.objectContaining({ message: 'second failed' }),
    ]);
    expect(line.err['settings']).toEqual({ host: 'db.local', password: REDACTED, headers: { authorization: REDACTED } });
    expect(line.err['raw']).toEqual(['content-type', 'application/json', 'authorization', REDACTED]);
    expect(line.err['at']).toBe('2026-12-06T00:00:00.000Z');
  });

  it('keeps the line of an error whose attached object has a throwing getter or refers to itself many times over (review 260)', () => {
    class Client {
      readonly name = 'store-client';
      get state(): string {
        throw new Error('closed');
      }
    }
    const looped: Record<string, unknown> = { token: 'LOOP-TOKEN' };
    for (let i = 0; i < 8; i++) looped[`ref${i}`] = looped;
    const error = Object.assign(new Error('db down'), { client: Object.defineProperty(new Client(), 'state', { enumerable: true, get: () => { throw new Error('closed'); } }), looped });
    const text = logged((log) => log.error({ err: error }, 'request failed'));
    expect(text).not.toContain('LOOP-TOKEN');
    const line = JSON.parse(text) as { msg: string; err: Record<string, unknown> };
    expect(line.msg).toBe('request failed');
    expect(line.err).toMatchObject({ message: 'db down', client: { name: 'store-client', state: '[unreadable: closed]' } });
    expect((line.err['looped'] as Record<string, unknown>)['ref0']).toBe('[Circular]');
  });

  it("writes a request's headers on an error as a request's line keeps them, and its raw headers not at all (review 260)", () => {
    const request = {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': 'SEKRIT-API-KEY-1', 'proxy-authorization': 'Basic UFJPWFktU0VDUkVU' },
      rawHeaders: ['content-type', 'application/json', 'x-api-key', 'SEKRIT-API-KEY-1'],
    };
    const text = logged((log) => log.error({ err: Object.assign(new Error('upstream failed'), { request }) }, 'request failed'));
    for (const secret of ['SEKRIT-API-KEY-1', 'UFJPWFktU0VDUkVU']) expect(text).not.toContain(secret);
    expect((JSON.parse(text) as { err: Record<string, unknown> }).err['request']).toEqual({ method: 'POST', headers: { 'content-type': 'application/json' }, rawHeaders: REDACTED });
  });
});
