import { describe, expect, it } from 'vitest';
import { parseEventStream, type SseFrame } from '../adapters/client/sse.ts';
import { HEARTBEAT, frameDropped, frameEvent, frameShutdown, frameStart } from '../adapters/http/sse/frame.ts';

// Issue 12: the SSE client parser (WHATWG HTML 9.2.6 "Interpreting an event stream") and the server's framing,
// which must round-trip through it whatever the chunking.

const encoder = new TextEncoder();

async function* chunks(parts: readonly (string | Uint8Array)[]): AsyncGenerator<Uint8Array> {
  for (const part of parts) yield typeof part === 'string' ? encoder.encode(part) : part;
}

const parse = async (parts: readonly (string | Uint8Array)[], maxEventChars?: number): Promise<SseFrame[]> => {
  const frames: SseFrame[] = [];
  for await (const frame of parseEventStream(chunks(parts), maxEventChars !== undefined ? { maxEventChars } : {})) frames.push(frame);
  return frames;
};

/** Every split of `text` into two chunks, and one byte per chunk. */
const splits = (text: string): (string | Uint8Array)[][] => {
  const bytes = encoder.encode(text);
  const all: Uint8Array[][] = [[...bytes].map((b) => Uint8Array.of(b))];
  for (let i = 0; i <= bytes.length; i++) all.push([bytes.slice(0, i), bytes.slice(i)]);
  return all;
};

describe('the event-stream parser', () => {
  it('reads the fields of an event, with CRLF, CR or LF line ends, however the bytes are chunked', async () => {
    for (const eol of ['\n', '\r\n', '\r']) {
      const text = `retry: 1500${eol}: hi${eol}${eol}id: 7${eol}event: NodeRevoked${eol}data: {"a":1}${eol}data: x${eol}${eol}`;
      for (const parts of splits(text)) {
        expect(await parse(parts)).toEqual([
          { kind: 'retry', ms: 1500 },
          { kind: 'comment', text: 'hi' },
          { kind: 'event', id: '7', event: 'NodeRevoked', data: '{"a":1}\nx' },
        ]);
      }
    }
  });

  it('keeps the last event id across events, ignores ids with NUL, names untyped events message', async () => {
    const frames = await parse(['id: 3\ndata: a\n\ndata: b\n\nid: 4\0\ndata: c\n\nid\ndata: d\n\n']);
    expect(frames).toEqual([
      { kind: 'event', id: '3', event: 'message', data: 'a' },
      { kind: 'event', id: '3', event: 'message', data: 'b' },
      { kind: 'event', id: '3', event: 'message', data: 'c' },
      { kind: 'event', id: '', event: 'message', data: 'd' },
    ]);
  });

  it('dispatches no event without data (its id still moves the last event id), discards an incomplete last event, skips a leading BOM and bad retries', async () => {
    expect(await parse(['\uFEFFid: 1\nevent: x\n\nretry: soon\ndata:nospace\n\ndata: cut'])).toEqual([
      { kind: 'id', id: '1' },
      { kind: 'event', id: '1', event: 'message', data: 'nospace' },
    ]);
  });

  it('refuses an event beyond the bound instead of buffering it', async () => {
    await expect(parse([`data: ${'x'.repeat(100)}\n`, `data: ${'x'.repeat(100)}\n\n`], 150)).rejects.toThrow(/longer than 150/);
    await expect(parse(['data: ', 'y'.repeat(200)], 150)).rejects.toThrow(/longer than 150/);
  });

  it('round-trips the frames the server writes', async () => {
    const text =
      frameStart(1000, 41n) +
      frameEvent({ id: '42', event: 'CredentialRevoked', data: '{"position":"42"}' }) +
      HEARTBEAT +
      frameEvent({ id: '43', event: 'odd', data: 'line one\nline two\r\nline three' }) +
      frameDropped('slow', 5000) +
      frameShutdown(2000);
    expect(await parse([text])).toEqual([
      { kind: 'retry', ms: 1000 },
      { kind: 'id', id: '41' },
      { kind: 'event', id: '42', event: 'CredentialRevoked', data: '{"position":"42"}' },
      { kind: 'comment', text: 'heartbeat' },
      { kind: 'event', id: '43', event: 'odd', data: 'line one\nline two\nline three' },
      { kind: 'comment', text: 'dropped: slow' },
      // No id on the dropped event: the client's last event id stays on the last real event.
      { kind: 'event', id: '43', event: 'dropped', data: '{"reason":"slow","retryMs":5000}' },
      { kind: 'retry', ms: 5000 },
      { kind: 'comment', text: 'shutdown' },
      { kind: 'retry', ms: 2000 },
    ]);
    expect(() => frameEvent({ id: '1\n2', event: 'x', data: '' })).toThrow(/message.id/);
  });
});
