/**
 * GET /v1/events: the integrator lifecycle streams as server-sent events (issue 12; issue 6 item 3).
 *
 * Each event's `id:` is its global store position and the log's tag (`<position>~<tag>`, review 185); `Last-Event-ID`
 * (or `?after=`) resumes strictly after it, with no gap and no duplicate, across restarts too, since positions belong to the store and not to this process.
 * Integrators get the pseudonymised stream only (seed 004; SER-011, SER-018, SER-025), operators and auditors the
 * canonical one only (review 229); it tells a pseudonym's events only to an auditor who recorded its resolution
 * (review 223, ./pseudonym-reads.ts toldOnStreams). Back-pressure: one event
 * in flight per stream, and a client that stops reading is dropped with a retry hint (adapters/http/sse). Each
 * principal may hold a bounded number of streams, and the service serves a bounded number of each kind, canonical
 * and pseudonymised (SER-001). A revocation by this service ends the token's streams
 * at once; the token is also checked again on each heartbeat (revocations by the CLI) and at its expiry.
 *
 * Everything that can refuse the request (query, headers, role, pipelining, cap) is checked before the socket is
 * taken over, so refusals are ordinary problem+json responses.
 */
import { z } from 'zod';
import { unauthorised } from '../../../domain/errors.ts';
import type { EventStore, RecordedEvent } from '../../../domain/ports/event-store.ts';
import { recordAtPosition } from '../../../projections/runtime/index.ts';
import { lifecycleEvents$, publicEvents$ } from '../../../projections/streams/index.ts';
import { ACCESS } from '../auth/roles.ts';
import { baselineHeaders } from '../baseline-headers.ts';
import { HttpProblem, refusedForTheRole } from '../problems.ts';
import type { RouteModule, ServiceContext } from '../context.ts';
import type { Principal } from '../auth/access-control.ts';
import { canonicalTagger, keyedTagger, notingStore, startIdOf, type EventTagger, type TaggerOnDemand } from '../sse/event-id.ts';
import { FRAMES_EXTENSION } from '../sse/frame-schemas.ts';
import { canonicalMessage, publicMessage } from '../sse/messages.ts';
import { EventsHeaders, EventsQuery, askedResumePoint, checkOperatorFilter, checkPublicFilter, lifecycleFilterOf, type Identifiers } from '../sse/query.ts';
import { checkFilterInScope } from '../sse/scope-reach.ts';
import { logPassedOver } from '../sse/passed-over.ts';
import { SseSession } from '../sse/session.ts';
import { streamPagedStore } from '../sse/stream-pages.ts';
import { toldStartAtOrBelow } from '../sse/told-start.ts';
import { StreamSlots } from '../sse/stream-slots.ts';
import type { SseMessage } from '../sse/frame.ts';
import { refuseResumePointNotInLog } from './resume-point.ts';
import { toldOnStreams } from './pseudonym-reads.ts';

const DESCRIPTION = `Lifecycle events as server-sent events (text/event-stream), catch-up then live.

Every event has \`id: <global position>~<tag>\`, \`event: <event type>\` and \`data: <JSON>\` (positions as decimal strings); the tag (8 hex digits) names the event at that position.
Reconnect with the \`Last-Event-ID\` header (or \`?after=\`) to resume strictly after that event: send the id as received. An id whose tag is not that of the event this log holds at its position is of another log (a re-created store, another instance, a restore from an older backup) and is refused (409 \`resume_point_not_in_log\`); a bare position is accepted unchecked.
Comments (\`: heartbeat\`) arrive every few seconds, their interval announced in the stream's opening (\`: heartbeat-ms N\`); \`retry:\` lines say how long to wait before reconnecting.
A client that stops reading is dropped with \`event: dropped\` and a retry hint; it resumes with Last-Event-ID.
A stream whose token is revoked (at once through this service, within a heartbeat through the CLI) or expires ends with \`event: dropped\` (reason \`unauthorised\`) and no retry hint: reconnect with a new token.
The canonical stream leaves out the events of a pseudonym's stream, which name its node (SER-025), but to an auditor who recorded a resolution of that pseudonym (POST /v1/pseudonyms/resolutions); a tagged id at a left-out event is refused (409 \`resume_point_not_in_log\`), its bare position resumes; an operator's \`kind\`, \`type\` or \`stream\` of a pseudonym is refused (400, rule \`not_told\`).
Operators and auditors receive canonical identifiers only: \`identifiers=pseudonymous\` is refused them (403), as its positions pair with the canonical stream's and would link each pseudonym to its node (an auditor links one by recording a resolution).
Integrators receive pseudonymised identifiers only; an integrator token issued with a scope receives only its M2M subscriptions' nodes' and its App-IDs' events (SER-025), and a kind or type filter its scope can never match is refused (400, rule \`not_in_scope\`).
A stream must be the only request in flight on its connection: one pipelined behind an unfinished answer is refused (400 pipelined_stream).`;

/**
 * How long a client refused by the stream cap should wait: about one stall period, when a stream whose client stopped
 * reading is reaped. (A quiet stream whose client vanished without closing holds its slot until the operating system
 * gives up on the connection; ending another stream in its place was tried and let two live clients of one principal
 * take each other's place without end: found in review.)
 */
const capRetryAfterSeconds = (context: ServiceContext): number => Math.max(1, Math.ceil(context.limits.sseStallMs / 1000));

/**
 * A resume point past the log's newest event names no event of this log. Resuming there would skip every event up to
 * it without a word, and the pseudonymised stream would fold identities only to the head, serving later events with
 * pseudonyms a rotation had replaced (an integrator holding two streams could link old and new; found in review).
 * Refused before the socket is taken over (./resume-point.ts).
 */
const RESTART = 'start again with from=start, which misses nothing (from=end skips what was appended meanwhile), and set aside what was received past the newest event';

/**
 * The taggers whose tags a principal's resume point may be checked against: the canonical stream's only for a principal
 * that may read event ids (a plain hash of one is a test of a guessed id: ../sse/event-id.ts), the pseudonymised
 * stream's where the server has the pseudonym key. So an operator's or auditor's id of a pseudonymised stream read before
 * review 229 (which refused them that stream) still resumes its canonical stream, at the same position. The canonical
 * one first, and the keyed one derived only when it did not match: a canonical id never waits on the Secure Environment
 * (review 189: with it unreachable, an auditor's canonical reconnect was a 500).
 */
const taggersFor = (principal: Principal, keyed: (() => Promise<EventTagger>) | undefined): TaggerOnDemand[] => [
  ...(principal.role !== 'integrator' ? [() => canonicalTagger] : []),
  ...(keyed !== undefined ? [keyed] : []),
];

/** Whether the event at `position` is one the stream does not tell its caller (`tells`: ./pseudonym-reads.ts toldOnStreams). */
const withheldAt = async (store: EventStore, position: bigint, tells: ((record: RecordedEvent) => Promise<boolean>) | undefined): Promise<boolean> => {
  if (tells === undefined || position === 0n) return false;
  const record = await recordAtPosition(store, position);
  return record !== undefined && !(await tells(record));
};

/**
 * Each role reads one form of the stream. Review 229: an operator's or an auditor's token also opened the pseudonymised
 * stream, whose frames carry the canonical stream's positions, so the two paired frame by frame linked every pseudonym of
 * every node to the node with no resolution recorded (SER-025). An auditor links one by recording its resolution.
 */
const identifiersFor = (principal: Principal, asked: Identifiers | undefined): Identifiers => {
  if (principal.role !== 'integrator') {
    if (asked === 'pseudonymous') {
      // For the role: told `insufficient_scope`, as a route the role may not call (review 367).
      throw refusedForTheRole(
        unauthorised(
          principal.subject,
          'operators and auditors receive canonical identifiers only (identifiers=canonical): the pseudonymised stream\'s positions pair with the ' +
            "canonical stream's, which would link each pseudonym to its node; an auditor links a pseudonym by recording a resolution (POST /v1/pseudonyms/resolutions)",
        ),
      );
    }
    return 'canonical';
  }
  if (asked === 'canonical') throw refusedForTheRole(unauthorised(principal.subject, 'integrators receive pseudonymised identifiers only (identifiers=pseudonymous)'));
  return 'pseudonymous';
};

export const eventRoutes: RouteModule = (app, context) => {
  const slots = new StreamSlots(context.limits.maxSseStreamsPerPrincipal);
  // Service-wide caps, as an admin mints subjects at will and per-principal alone was not enough (found in review):
  // canonical streams, which only operators and auditors read, under one bound, and pseudonymised ones, which only
  // integrators read (review 229), under another, so neither side filling its places keeps the other out (review 199).
  const canonical = new StreamSlots(context.limits.maxSseStreams);
  const pseudonymised = new StreamSlots(context.limits.maxPseudonymisedStreams);
  // The pseudonymised stream's tagger, keyed once per process (../sse/event-id.ts keyedTagger).
  const pseudonymisedTagger = keyedTagger(context.credence.pseudonyms?.deriver);

  app.get(
    '/v1/events',
    {
      // Fastify would answer HEAD by running this handler: a real stream (slot, subscription) behind a HEAD.
      exposeHeadRoute: false,
      config: { access: ACCESS.events },
      schema: {
        summary: 'Subscribe to lifecycle events (server-sent events)',
        description: DESCRIPTION,
        tags: ['events'],
        querystring: EventsQuery,
        headers: EventsHeaders,
        response: {
          200: {
            description: 'An endless text/event-stream; see the operation description for its frames.',
            content: {
              'text/event-stream': {
                schema: z.string().meta({
                  description:
                    'Frames of lines `id: <position>~<tag>`, `event: <type>`, `data: <JSON>`, each ended by a blank line; comments and `retry:` lines ' +
                    'between them. The JSON is an OperatorFrame (identifiers=canonical: operators and auditors), an IntegratorFrame ' +
                    '(identifiers=pseudonymous: integrators), or a DroppedFrame.',
                  ...FRAMES_EXTENSION,
                }),
              },
            },
          },
        },
      },
    },
    async (request, reply) => {
      const principal = request.principal;
      if (principal === undefined) throw new Error('GET /v1/events: reached without an authenticated principal');
      const identifiers = identifiersFor(principal, request.query.identifiers);
      const asked = lifecycleFilterOf(request.query, request.headers);
      const pseudonyms = context.credence.pseudonyms;
      if (identifiers === 'pseudonymous' && pseudonyms === undefined) {
        // Not a passing state to retry: the server was started without a pseudonym key (a configuration matter).
        throw new HttpProblem(501, 'pseudonyms_unavailable', 'this server has no pseudonym key, so it cannot serve the pseudonymised stream');
      }
      // The filter as asked, checked before any slot is taken (its start, resolved below, is no part of these checks).
      if (identifiers === 'canonical') {
        if (principal.role === 'operator') checkOperatorFilter(asked);
      } else {
        checkPublicFilter(asked);
        // The scope verified with the token on this request (access.db's record): left out events are not an error,
        // but a filter that can match none of what it publishes would hold a pseudonymised place for nothing.
        if (principal.scope !== undefined) checkFilterInScope(asked, principal.scope);
      }
      // A stream must be the only request in flight on its connection (SER-001, found in adversarial review). A
      // response queued behind an earlier one (HTTP/1.1 pipelining) has no socket yet: behind another stream it would
      // never get its turn (an event stream does not end), yet it would hold a slot and, if pseudonymised, a place
      // and a copy of the fleet's identities, with no client ever reading it. Refused before any slot is taken; the
      // refusal is answered in turn, after the requests before it. Waiting for the turn instead would serve a stream
      // behind a short request, but would keep a handler pending per pipelined request without bound (queued
      // refusals fill the connection's output buffer, and Node then stops reading it), for a client that has its
      // own connection to open: browsers do not pipeline, and EventSource opens one connection per stream.
      if (reply.raw.socket === null) {
        throw new HttpProblem(
          400,
          'pipelined_stream',
          'an event stream must be the only request in flight on its connection: open it on a connection of its own, or once the earlier responses have arrived',
        );
      }
      // Both slots are taken before anything of the store is read (review 395): the look-back of a stream from the end
      // (../sse/told-start.ts: up to 64 pages, a directory lookup per record for an auditor) cost a capped token's every
      // refused request some 160-420 ms. Every refusal or failure past here gives both back; the session, once it runs, does.
      // Keyed on role and subject: an admin may issue an integrator token under an operator's subject, and its streams
      // must not take that operator's slots (found in review). A subject's tokens of one role still share them.
      const release = slots.acquire(`${principal.role}:${principal.subject}`);
      if (release === undefined) {
        const retryAfter = capRetryAfterSeconds(context);
        const limit = context.limits.maxSseStreamsPerPrincipal;
        throw new HttpProblem(
          429,
          'too_many_streams',
          `${principal.role} ${principal.subject} already holds ${limit} event streams: close one, or retry after ${retryAfter} s`,
          { limit },
          { 'retry-after': String(retryAfter) },
        );
      }
      const serviceWide = identifiers === 'canonical'
        ? { slots: canonical, limit: context.limits.maxSseStreams, what: 'canonical event streams' }
        : { slots: pseudonymised, limit: context.limits.maxPseudonymisedStreams, what: "pseudonymised event streams to integrators (each holds the fleet's identities)" };
      const releaseServiceWide = serviceWide.slots.acquire('service');
      if (releaseServiceWide === undefined) {
        release();
        const retryAfter = capRetryAfterSeconds(context);
        const { limit, what } = serviceWide;
        throw new HttpProblem(
          429,
          'too_many_streams',
          `the service already serves ${limit} ${what}: retry after ${retryAfter} s`,
          { limit },
          { 'retry-after': String(retryAfter) },
        );
      }
      // The session exists only once the socket is taken over; events flow only after it subscribes.
      let session: SseSession | undefined;
      try {
        // What of the log the caller may be told: an event of a pseudonym's stream names its node (review 223).
        const tells = principal.role === 'integrator' ? undefined : await toldOnStreams(context, principal);
        const store = context.credence.store;
        // A tagged id at an event the caller is not told is none its streams gave it: refused as another log's whatever its
        // tag, since checking the tag would answer whether a guessed event id (a rotation's derives from its node's
        // registration) is the one there. Its bare position resumes, unchecked as any.
        const tag = askedResumePoint(request.query, request.headers)?.tag;
        const withheld = typeof asked.from === 'bigint' && tag !== undefined && (await withheldAt(store, asked.from, tells));
        const taggers = withheld ? [] : taggersFor(principal, pseudonymisedTagger);
        await refuseResumePointNotInLog(context, asked.from, RESTART, principal, tag === undefined ? undefined : { tag, taggers });
        // `from=end` as the position it stands for now, so the stream can say where it starts (its first frame's id): the
        // newest record Credence wrote, which stays in the log. The head of a shared EventStoreDB may be another
        // application's record, gone once scavenged: the id a client resumes with was then refused (review 160).
        const head = asked.from === 'end' ? ((await (store.ownHeadPosition?.() ?? store.headPosition())) ?? 0n) : undefined;
        const tagOf = identifiers === 'canonical' || pseudonymisedTagger === undefined ? canonicalTagger : await pseudonymisedTagger();
        // A canonical stream from the end starts after the newest event there it tells, named with its tag (review 241):
        // the head is very often a rotation withheld from the caller, and its bare position, unchecked, let a client cut
        // before its first event skip events without a word on a store restored from a backup (../sse/told-start.ts).
        // The pseudonymised stream names the head with its keyed tag, which tests no guess: it needs no such step.
        const told = head !== undefined && tells !== undefined ? await toldStartAtOrBelow(store, head, tells, tagOf) : undefined;
        const filter = head === undefined ? asked : { ...asked, from: told?.from ?? head };
        // The first frame's id names the event there as every event's does, so a client cut before its first event
        // resumes with an id this log can check.
        // Bare where the event there is one the caller is not told: its canonical tag would test a guessed event id
        // (a bare resume point there, or a head that told-start.ts could not look back from).
        const startsAfter =
          typeof filter.from !== 'bigint'
            ? undefined
            : told !== undefined
              ? told.id
              : identifiers === 'canonical' && (await withheldAt(store, filter.from, tells))
                ? filter.from.toString(10)
                : await startIdOf(store, filter.from, tagOf);

        const deliver = (message: SseMessage): Promise<void> => {
          if (session === undefined) throw new Error('event delivered before the stream started');
          return session.deliver(message);
        };
        // An event no reader acts on is passed over, as the projections pass over it, and logged once (review 79).
        const onPassedOver = logPassedOver(context.credence.store, request.log);
        // Built before the socket is taken over: a filter that cannot be served throws here, as a 400 (its slots given back).
        let events;
        // What a stream whose client stopped reading holds of the store: a page of at most 256 KiB, not the store's own
        // 1,000 records (review 285). The stream is the service's lifecycle stream (`credence.events$`) over that view.
        const paged = streamPagedStore(store);
        if (identifiers === 'canonical') {
          events = lifecycleEvents$(paged, filter, { onEvent: (e) => deliver(canonicalMessage(e, tagOf)), onPassedOver, ...(tells !== undefined ? { tells } : {}) });
        } else {
          const scope = principal.scope;
          // A pseudonymised event carries no event id: the store it reads notes the record each one was made of.
          const noted = notingStore(paged, tagOf);
          // There: a server without the pseudonym key answered 501 above.
          events = publicEvents$(noted.store, pseudonyms!.deriver, filter, {
            onEvent: async (e) => deliver(publicMessage(e, await noted.idAt(e.position))),
            onPassedOver,
            ...(scope !== undefined ? { scope } : {}),
          });
        }

        // The stream's head is written by the session, past Fastify's onSend hook: the baseline headers go on first.
        baselineHeaders(request, reply);
        reply.hijack();
        session = new SseSession({
          res: reply.raw,
          connection: request.raw.socket,
          headers: reply.getHeaders(),
          requestId: request.id,
          role: principal.role,
          remainingMs: () => context.access.remainingMs(principal),
          onRevoked: (end) => context.access.onRevoked(principal.tokenId, end),
          heartbeatMs: context.limits.sseHeartbeatMs,
          ...(startsAfter !== undefined ? { startsAfter } : {}),
          highWaterBytes: context.limits.sseHighWaterBytes,
          stallMs: context.limits.sseStallMs,
          metrics: context.metrics,
          shutdown: context.shutdown,
          log: request.log,
          onClosed: () => {
            release();
            releaseServiceWide();
          },
        });
        try {
          void session.run(events);
        } catch (error) {
          // Thrown before the session could end itself (writeHead or the first write, synchronously): no onClosed will
          // come, so both slots are given back here (release is idempotent), and the hijacked response, which nothing
          // will answer now, is ended so its client does not wait on it (review 404).
          release();
          releaseServiceWide();
          reply.raw.destroy();
          throw error;
        }
      } catch (error) {
        // Refused or failed before the session took the slots over: none is left held (a session that exists releases
        // them itself, in onClosed).
        if (session === undefined) {
          release();
          releaseServiceWide();
        }
        throw error;
      }
    },
  );
};
