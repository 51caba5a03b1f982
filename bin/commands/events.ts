import type { Command } from 'commander';
import { z } from 'zod';
import { DEFAULT_TIMEOUT_MS, originOf, ProblemResponse, ServerUnreachable } from '../../adapters/client/http.ts';
import { SILENCE_MS, subscribeEvents } from '../../adapters/client/sse.ts';
import { EventTypeSchema } from '../../domain/events/index.ts';
import { ResumePointString } from '../../domain/positions.ts';
import { entityIdRefusal } from '../../domain/entity-ids.ts';
import { ENTITY_KINDS, EntityKind, parseStreamId } from '../../domain/streams.ts';
import { transientStatus } from '../../domain/transient-status.ts';
import { WholeNumber } from '../../domain/whole-number.ts';
import type { Io } from '../io.ts';
import { printable } from '../printable.ts';
import { EXIT, handler, parseOptions, runCommands, type RegisterCommands } from '../program.ts';
import { humanLine, jsonLine } from './event-line.ts';
import { ServerOptions, serverTarget, type ServerTarget } from './options.ts';

/** The server's own bounds on a stream's filter (adapters/http/sse/query.ts): refused here first, naming the option. */
const MAX_TYPES = 64;
const MAX_STREAMS = 100;
const MAX_ITEM_CHARS = 256;

/** `--silence-seconds`: at least a second, at most a day, as --timeout is bounded. */
const MAX_SILENCE_SECONDS = 86_400;
const SILENCE_RULE = `must be a number of seconds from 1 to ${MAX_SILENCE_SECONDS}, e.g. 60 (longer than the server's heartbeats apart)`;

const FROM_RULE = 'must be start, end or an event position to resume after (a decimal integer from 0 to 2^63 - 1), or an event id as the stream sent it (<position>~<tag>)';

const STREAM_RULE =
  'takes canonical identifiers only, so not with --identifiers pseudonymous (a pseudonymous stream names no canonical entity): ' +
  'filter it with --kind and --type instead, or give --identifiers canonical (operators and auditors)';

const shown = (value: string): string => (value.length > 64 ? `${value.slice(0, 64)}…` : value);

/** A `--stream` the server would refuse (review 229: an id no entity can have, by its kind's rule), refused here first. */
const streamRule = (value: string, context: z.RefinementCtx): void => {
  const ref = parseStreamId(value);
  const message = ref === undefined ? 'must be <kind>-<id> of an entity stream, e.g. node-meter-1' : entityIdRefusal(ref.kind, ref.id);
  if (message !== undefined) context.addIssue({ code: 'custom', message });
};

const Options = z.object({
  kind: z.array(EntityKind).min(1).max(ENTITY_KINDS.length).optional(),
  type: z
    .array(z.string().max(MAX_ITEM_CHARS).refine((t) => EventTypeSchema.safeParse(t).success, { error: (i) => `${shown(String(i.input))} is not an event type, e.g. NodeRevoked` }))
    .min(1)
    .max(MAX_TYPES)
    .optional(),
  stream: z
    .array(z.string().max(MAX_ITEM_CHARS).superRefine(streamRule))
    .min(1)
    .max(MAX_STREAMS)
    .optional(),
  from: z
    .string()
    .max(32)
    .refine((s) => s === 'start' || s === 'end' || ResumePointString.safeParse(s).success, FROM_RULE)
    .default('start'),
  identifiers: z.enum(['canonical', 'pseudonymous']).optional(),
  limit: WholeNumber(1, 1_000_000_000).optional(),
  // Decimal digits only, as DecimalNumber reads them (never `1e3`), and one rule said for every value refused.
  silenceSeconds: z
    .string()
    .regex(/^\d{1,16}(\.\d{1,9})?$/, SILENCE_RULE)
    .transform(Number)
    .pipe(z.number().min(1, SILENCE_RULE).max(MAX_SILENCE_SECONDS, SILENCE_RULE))
    .optional(),
  json: z.boolean().default(false),
  ...ServerOptions,
}).superRefine((o, context) => {
  // The server refuses the pair with a 400 (parsePublicFilter, rule not_public): said here, nothing sent. Without
  // --identifiers an integrator's token gets the same 400; the token's role is the server's to read, not ours.
  if (o.stream !== undefined && o.identifiers === 'pseudonymous') context.addIssue({ code: 'custom', path: ['stream'], message: STREAM_RULE });
});
type Options = z.output<typeof Options>;

/** Path and query of GET /v1/events for these options; an event id in --from goes as Last-Event-ID instead. */
const pathOf = (o: Options): string => {
  const query = new URLSearchParams();
  for (const kind of o.kind ?? []) query.append('kind', kind);
  for (const type of o.type ?? []) query.append('type', type);
  for (const stream of o.stream ?? []) query.append('stream', stream);
  if (o.from === 'start' || o.from === 'end') query.set('from', o.from);
  if (o.identifiers !== undefined) query.set('identifiers', o.identifiers);
  return `/v1/events?${query.toString()}`;
};

const ENDING_SIGNALS = ['SIGINT', 'SIGTERM'] as const;

/**
 * Ctrl-C (or SIGTERM) ends the follow as asked: the connection closed, what was printed flushed, exit 0. Once, so a
 * second one meets the default action. Returns the signal and what removes the listeners.
 */
const stoppedBySignal = (): { readonly signal: AbortSignal; readonly release: () => void } => {
  const stop = new AbortController();
  const onSignal = (): void => {
    release();
    stop.abort();
  };
  const release = (): void => {
    for (const name of ENDING_SIGNALS) process.off(name, onSignal);
  };
  for (const name of ENDING_SIGNALS) process.on(name, onSignal);
  return { signal: stop.signal, release };
};

/*
 * An event id is printed whole, as the stream sent it (`@42~1a2b3c4d`), in lines and notes alike: given back as --from
 * it is resumed after as the command's own reconnections resume (adapters/client/sse.ts), the server checking that its
 * tag names its log's event there. Review 206: only the position was printed, which a script could resume after only
 * unchecked.
 */
const resumePoint = (id: string): string => (id === '' ? 'from where it started' : `after @${id}`);
/**
 * Where to resume a stream the server ended for good, said for what it is: the last event printed, or, none printed,
 * the stream's start (review 289: a `--from end` stream revoked before its first event named its start id "the last
 * event printed"). Either is the id to give --from.
 */
const endedAt = (id: string, printed: number): string =>
  printed > 0 ? `(the last event printed: @${id})` : `before it sent an event (the stream's start: ${id === '' ? 'the start of the log' : `@${id}`})`;

/**
 * A server error the subscription would have waited out on a reconnection (transientStatus: a 5xx but 501 and 505),
 * met on the first connection, where this command makes none: a server not reached (exit 3), as when nothing answers,
 * not a refusal. Behind a reverse proxy a server restarting answers 502 or 504 (review 206: exit 1, "refused: Bad
 * Gateway (502)"). A 429 or 408 there is not: it says this caller is over a cap or too slow (429 too_many_streams:
 * close one of your streams), a refusal printed with its detail and when to retry, exit 1 (review 211: taken for a
 * server restarting, exit 3). Once a stream has been served, both are waited out. The detail is said when the answer
 * was a problem document, not a proxy's page.
 */
const notServed = (error: unknown, url: string): ServerUnreachable | undefined => {
  if (!(error instanceof ProblemResponse) || error.status < 500 || !transientStatus(error.status)) return undefined;
  const { type, title, detail } = error.problem;
  const said = type !== 'about:blank' && detail !== undefined ? `: ${detail}` : '';
  return new ServerUnreachable(
    url,
    undefined,
    `${originOf(url)} did not serve the stream: ${title} (${error.status})${said}; the server (or a proxy before it) may be restarting: run the command again later`,
  );
};

/**
 * `credence events --server URL [--kind K]... [--type T]... [--stream S]... [--from start|end|POSITION] [--json]
 * [--limit N] [--timeout SECONDS] [--silence-seconds SECONDS]`: the lifecycle event stream, followed live. A
 * connection lost once the stream has opened is resumed with Last-Event-ID (adapters/client/sse.ts), with no gap and
 * no duplicate; a server never reached is exit 3, and so is one that has not opened the stream within --timeout (as
 * every command that talks to a server waits at most so long for an answer); the live stream that follows is not timed
 * out for want of events: it is quiet for as long as nothing happens, and heartbeats keep its connection; but one from
 * which nothing came, not even a heartbeat, for --silence-seconds (default 60: four of the server's default
 * heartbeats; four of those it announces, if longer) is taken for a connection a proxy or NAT lost without closing it,
 * and is made again (review 354: it was followed for ever).
 */
export const register: RegisterCommands = (program, io) => {
  const command: Command = program
    .command('events')
    .description('follow the lifecycle event stream of a server (GET /v1/events): one line per event, live until Ctrl-C or --limit')
    .option('--kind <kind...>', `only entities of these kinds: ${ENTITY_KINDS.join(', ')} (repeatable)`)
    .option('--type <type...>', `only these event types, e.g. NodeRevoked (repeatable, at most ${MAX_TYPES})`)
    .option('--stream <stream...>', `only these entity streams, <kind>-<id> (repeatable, at most ${MAX_STREAMS}; canonical identifiers only)`)
    .option(
      '--from <where>',
      'start (the whole history, the default), end (only what comes from now) or an event id to resume strictly after, e.g. the last one printed (POSITION~TAG, as the stream sent it, which the server checks is its own; a bare POSITION is taken unchecked)',
    )
    .option('--identifiers <form>', "canonical (operators' and auditors' only form, and their default) or pseudonymous (integrators' only form, and their default)")
    .option('--limit <n>', 'stop after this many events (default: follow until Ctrl-C; `| head -N` ends it only at the event after)')
    .option('--json', 'one JSON object per line (NDJSON), each event as the server sends it, with its id (POSITION~TAG) as `id`')
    .option('--server <url>', 'a Credence server, e.g. http://127.0.0.1:8080 (env: CREDENCE_URL)')
    .option('--token <token>', 'bearer token for --server (env: CREDENCE_TOKEN); shows in ps and shell history, prefer --token-file')
    .option('--token-file <file>', 'read the bearer token from this file (surrounding whitespace trimmed) instead of --token')
    .option(
      '--timeout <seconds>',
      `how long to wait for the stream to open, on each connection and reconnection; never for events once open (env: CREDENCE_TIMEOUT; default ${DEFAULT_TIMEOUT_MS / 1000})`,
    )
    .option(
      '--silence-seconds <seconds>',
      `how long an open stream may send nothing, not even a heartbeat, before its connection is taken for lost and made again, resuming after the last event printed (1 to ${MAX_SILENCE_SECONDS}; default ${SILENCE_MS / 1000})`,
    )
    .addHelpText(
      'after',
      '\nPrinted: @ID TIME TYPE STREAM (an integrator\'s stream: its day and the pseudonymous subject), ID as the stream sent\n' +
        'it, POSITION~TAG, which --from takes back (with --json: its `id` member). A lost connection is resumed after the\n' +
        'last event printed; a note on stderr says so. Exit 0 at --limit or Ctrl-C, 1 refused (the problem printed), 2 bad\n' +
        'usage, 3 server unreachable, the stream not open within --timeout, or a server error a retry may mend (a\n' +
        'proxy\'s 502 or 504, a 503) on the first connection, where a 429 (too many streams) or 408 is refused, exit 1;\n' +
        'once the stream has opened all of these are waited out.',
    )
    .action(
      handler(io, async (raw: Record<string, unknown>) => {
        const o = parseOptions(command, Options, raw);
        const target = serverTarget(o, io);
        return follow(o, target, io);
      }),
    );
};

const follow = async (o: Options, target: ServerTarget, io: Io): Promise<number> => {
  const stopped = stoppedBySignal();
  let printed = 0;
  // --from end starts where the server's head was when the stream opened: said once, so that events stored just before
  // (a revocation a moment earlier) are known to be behind it, not missed (review 94 read a 13 s "gap" so). Not
  // always the head itself: an operator's or auditor's stream starts after the newest event the token may read
  // (adapters/http/sse/told-start.ts), and the head is very often a PseudonymRotated it is not shown (review 310: the
  // note called that start "the last one stored"). What is true of either stream: nothing it may read came after it.
  let startTold = o.from !== 'end';
  try {
    const events = subscribeEvents(target.url, {
      path: pathOf(o),
      token: target.token,
      ...(o.from !== 'start' && o.from !== 'end' ? { lastEventId: o.from } : {}),
      // Ended by Ctrl-C, or by stdout's reader found gone at a write (review 336: a failed write left it following until
      // another event came). A reader that leaves after the last write went through is found at the next: --limit N
      // ends it at once where `| head -N` waits for one more event.
      signal: io.stdoutGone === undefined ? stopped.signal : AbortSignal.any([stopped.signal, io.stdoutGone]),
      ...(target.timeoutMs !== undefined ? { connectTimeoutMs: target.timeoutMs } : {}),
      ...(o.silenceSeconds !== undefined ? { silenceMs: Math.ceil(o.silenceSeconds * 1000) } : {}),
      onSilent: (_id, ms) => io.err(`note: no word from the server for ${ms / 1000} s, not even a heartbeat: the connection is taken for lost`),
      // A server never reached is said at once (exit 3); one that served the stream is waited for, as long as it takes.
      maxReconnectsBeforeOpen: 0,
      // After `unauthorised` the client asks once more, and the server's 401 ends the command (exit 1, the problem printed).
      onDropped: (d) =>
        io.err(
          d.reason === 'unauthorised'
            ? `note: the server ended the stream: the token was revoked or has expired ${endedAt(d.lastEventId, printed)}; resume with --from and a new token`
            : d.reason === 'newer_event'
              ? printable(
                  `note: the server ended the stream before the event at position ${d.position ?? 'unknown'}, which a newer version of Credence wrote and this server cannot read (${d.message ?? 'no detail'}); it is tried again, resuming ${resumePoint(d.lastEventId)}, until the server is upgraded`,
                )
              : `note: the server ended the stream (${d.reason}); resuming ${resumePoint(d.lastEventId)}`,
        ),
      onReconnect: (id, ms) => io.err(`note: reconnecting in ${(ms / 1000).toFixed(1)} s, resuming ${resumePoint(id)}`),
      onFrame: (frame) => {
        if (startTold || (frame.kind !== 'id' && frame.kind !== 'event')) return;
        startTold = true;
        if (frame.kind === 'id' && ResumePointString.safeParse(frame.id).success) {
          // A bare 0 is a log with no event yet: there is none to be after (review 289).
          const where =
            frame.id === '0'
              ? 'the log was empty when the stream opened'
              : `events after @${frame.id}, past which the log held no event this token may read when the stream opened`;
          io.err(`note: following from the end: ${where} (--from start for the whole history)`);
        }
      },
    });
    for await (const event of events) {
      io.out(o.json ? jsonLine(event) : humanLine(event));
      printed += 1;
      if (o.limit !== undefined && printed >= o.limit) break;
    }
    return EXIT.done;
  } catch (error) {
    throw notServed(error, target.url) ?? error;
  } finally {
    stopped.release();
  }
};

/** The command on its own: `events(['--server', url, '--limit', '3'], io)`. */
export const events = (argv: string[], io: Io): Promise<number> => runCommands([register], ['events', ...argv], io);
