/**
 * The text/event-stream parser of the event stream client (sse.ts), over a fetch body.
 *
 * The parser follows WHATWG HTML "Server-sent events", 9.2.6 "Interpreting an event stream": lines end with CRLF,
 * LF or CR; a blank line dispatches; `:` starts a comment; the last event id persists across events; an event
 * without data is not dispatched; an incomplete event at the end of the stream is discarded.
 */

export interface SseEvent {
  /**
   * The last event id at this event (on Credence's streams the global store position and its event's tag,
   * `<position>~<tag>`, to be sent back as it is); '' when none was sent, and in `subscribeEvents` when the id sent is
   * not an event id.
   */
  readonly id: string;
  /** `message` when the event named no type; Credence names each event by its type. */
  readonly event: string;
  readonly data: string;
}

/** Everything the stream carries: events, comments (heartbeats) and reconnection hints. */
export type SseFrame =
  | ({ readonly kind: 'event' } & SseEvent)
  | { readonly kind: 'comment'; readonly text: string }
  | { readonly kind: 'retry'; readonly ms: number }
  /** A frame without data whose `id:` moved the last event id (the server's first frame names where it starts). */
  | { readonly kind: 'id'; readonly id: string };

export interface ParseOptions {
  /** An event or a line longer than this is a broken stream, not something to buffer (default 1 MiB). */
  readonly maxEventChars?: number;
}

const DEFAULT_MAX_EVENT_CHARS = 1 << 20;

/** Parses a text/event-stream body; throws when an event exceeds the bound. */
export async function* parseEventStream(body: AsyncIterable<Uint8Array>, options: ParseOptions = {}): AsyncGenerator<SseFrame> {
  const max = options.maxEventChars ?? DEFAULT_MAX_EVENT_CHARS;
  const decoder = new TextDecoder('utf-8', { ignoreBOM: false });
  let buffer = '';
  let data: string[] = [];
  let dataChars = 0;
  let type = '';
  let idBuffer = '';
  let lastEventId = '';

  function* line(text: string): Generator<SseFrame> {
    if (text === '') {
      const moved = idBuffer !== lastEventId;
      lastEventId = idBuffer;
      if (data.length > 0) yield { kind: 'event', id: lastEventId, event: type === '' ? 'message' : type, data: data.join('\n') };
      else if (moved) yield { kind: 'id', id: lastEventId };
      data = [];
      dataChars = 0;
      type = '';
      return;
    }
    if (text.startsWith(':')) {
      yield { kind: 'comment', text: text.slice(1).replace(/^ /, '') };
      return;
    }
    const colon = text.indexOf(':');
    const field = colon === -1 ? text : text.slice(0, colon);
    const value = colon === -1 ? '' : text.slice(colon + 1).replace(/^ /, '');
    switch (field) {
      case 'data':
        dataChars += value.length + 1;
        if (dataChars > max) throw new Error(`event stream: an event is longer than ${max} characters`);
        data.push(value);
        break;
      case 'event':
        type = value;
        break;
      case 'id':
        if (!value.includes('\0')) idBuffer = value;
        break;
      case 'retry':
        if (/^\d+$/.test(value)) yield { kind: 'retry', ms: Number(value) };
        break;
      default:
      // Unknown fields are ignored (spec).
    }
  }

  function* lines(final: boolean): Generator<SseFrame> {
    for (;;) {
      const end = buffer.search(/[\r\n]/);
      if (end === -1) break;
      // A CR at the end of what has arrived may be the first half of a CRLF.
      if (buffer[end] === '\r' && end === buffer.length - 1 && !final) break;
      const text = buffer.slice(0, end);
      buffer = buffer.slice(buffer[end] === '\r' && buffer[end + 1] === '\n' ? end + 2 : end + 1);
      yield* line(text);
    }
    if (buffer.length > max) throw new Error(`event stream: a line is longer than ${max} characters`);
  }

  for await (const chunk of body) {
    buffer += decoder.decode(chunk, { stream: true });
    yield* lines(false);
  }
  buffer += decoder.decode();
  yield* lines(true);
  // Whatever is left is an incomplete event: discarded.
}
