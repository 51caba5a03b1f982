import type { Command } from 'commander';
import { z } from 'zod';
import { systemClock } from '../../adapters/driven/clock/index.ts';
import { resumePointNotInLog, type ResumePoint } from '../../domain/positions.ts';
import type { EventStore } from '../../domain/ports/event-store.ts';
import { openReadModels } from '../../adapters/driven/readmodels/index.ts';
import { readModelProjections } from '../../adapters/runtime/projections.ts';
import { checkpointsOfAnotherLog, describeOtherLog, projectionLag, ProjectionRunner, type OtherLog } from '../../projections/runtime/index.ts';
import {
  answerQuery, positionOfAfter, readModelsCountedFor, COMPLIANCE_QUERIES, COMPLIANCE_QUERY_NAMES, DEFAULT_ROWS, MAX_ROWS, type ComplianceAnswer, type ComplianceQueryName,
} from '../../projections/compliance/index.ts';
import { cascadeProcessManager } from '../../projections/cascade/index.ts';
import type { CommandSink } from '../../domain/ports/index.ts';
import { TokenId } from '../../adapters/http/auth/access-control.ts';
import {
  answeredOrBehind, complianceCursorOf, cursorKeyedAt, cursorOfAnotherQuery, cursorOfTwoPositions, holdsCursorEvent, queryDigestOf, taggedNextAfter, type ComplianceCursor,
} from '../../adapters/http/routes/compliance-rows.ts';
import { json, type Io } from '../io.ts';
import { printable, printableCsv } from '../printable.ts';
import { handler, parseOptions, runCommands, UsageError, type RegisterCommands } from '../program.ts';
import { assertSetUp, lockUnlessHeld } from './folder-lock.ts';
import { openLocalStore, StoreArg } from './open-store.ts';
import { warnOfUnknownVariables } from './unknown-variables.ts';
import { clientOf, readTarget, ServerOptions, withJson, withLocalStore, withServer, PathArg } from './options.ts';
import { signingPolicyOption, SigningArg } from './signing-option.ts';

const PARAMS = {
  reason: 'revocations: an RFC 5280 reason, e.g. keyCompromise',
  from: "revocations, actions: window start, included (ISO date-time with its offset, or a date: a date alone is that day's 00:00 UTC)",
  to: "revocations, actions: window end, excluded (a date alone is that day's 00:00 UTC)",
  by:
    'revocations: what --from, --to and --order newest go by: occurred (the default; when each took effect, dated back for a handover ' +
    'or a lapse recorded late, so a past window can gain rows) or recorded (when each was recorded; for incremental exports)',
  actor: 'actions: the actor id (or --token-id, or both)',
  tokenId: 'actions: the id of an API token (tok_…, its tokenId; never the token itself): the actions recorded with it',
  subscription: 'provisioned: the M2M Service Subscription id',
  days: 'expiring: how many days ahead',
  now: "expiring: the instant to count from (default: now; a date alone is that day's 00:00 UTC)",
  limit: `every query: at most this many rows (default ${DEFAULT_ROWS}, at most ${MAX_ROWS})`,
  after:
    'the nextAfter of the page before, as printed: revocations, actions: <position>~<tag>; ' +
    'provisioned: <listedPosition>:<credentialId>@<position>~<tag> (or a listed position alone: the rows listed after it); ' +
    'expiring: <notAfterMs>:<credentialId>@<position>~<tag>; dangling-associations: <position>:<associationId>@<position>~<tag>; ' +
    'dangling-credentials: <position>:<credentialId>@<position>~<tag>. ' +
    'Each ends in .<digest> of the query and its parameters (all but --limit): one of another query or other parameters is refused, ' +
    'as is one of another log (another folder or server, an older backup); one without its tag is taken unchecked',
  order: 'revocations: log (the default, paged with --after) or newest (the latest --limit first)',
} as const;
const FLAGS = Object.keys(PARAMS) as (keyof typeof PARAMS)[];
/** A parameter's option as written: `tokenId` is `--token-id` (`--token` is the bearer token for --server). */
const flagOf = (param: string): string => `--${param.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;

/** The parameters whose flag is spelled otherwise (`tokenId`, `--token-id`), as a message may name them. */
const RESPELLED = new RegExp(`\\b(?:${FLAGS.filter((f) => flagOf(f) !== `--${f}`).join('|') || '(?!)'})\\b`, 'g');

/**
 * A query's refusal as the command line says it: the parameters it names, in its path, its unknown keys and its
 * message, as the flags that set them (review 200: `Unrecognized key: "tokenId"`, `unless tokenId is given`).
 */
const cliIssueText =
  (queryName: string) =>
  (issue: { readonly path: readonly PropertyKey[]; readonly message: string; readonly code: string; readonly keys?: readonly string[] }): string => {
    const where = issue.path.length > 0 ? flagOf(issue.path.map(String).join('.')) : queryName;
    if (issue.code === 'unrecognized_keys' && issue.keys !== undefined) return `${where}: not taken by ${queryName}: ${issue.keys.map(flagOf).join(', ')}`;
    return `${where}: ${issue.message.replace(RESPELLED, flagOf)}`;
  };
/**
 * `--days` in decimal digits, but more than its form takes (5 before the point, 9 after), is told the bound rather than
 * the form it is in (review 295: `--days 99999999999999999999` was told "in decimal digits"). The bound is the query's
 * own, read from its schema's refusal of the largest count its form takes.
 */
const daysPastTheirDigits = (issue: { readonly path: readonly PropertyKey[]; readonly code: string }, days: string | undefined): string | undefined => {
  if (issue.path[0] !== 'days' || issue.code !== 'invalid_format' || days === undefined || !/^\s*\d+(?:\.\d+)?\s*$/.test(days)) return undefined;
  const largest = COMPLIANCE_QUERIES.expiring.params.safeParse({ days: '99999' });
  const bound = largest.success ? undefined : largest.error.issues.find((i) => i.code === 'too_big');
  const most = bound !== undefined && 'maximum' in bound ? ` ${String(bound.maximum)}` : '';
  return `--days: at most${most} days, with at most 9 digits after the point (e.g. 30 or 1.5)`;
};

/** Bounded here (SER-001); each query's own schema then says which apply and what they mean. */
const Param = z.string().max(200).optional();
/**
 * `--token-id` is read as the service issues token ids (adapters/http/auth/token-ids.ts), as GET /v1/compliance reads
 * `tokenId`: any other value is bad usage naming the option, never echoed (a bearer token given there by mistake).
 */
const PARAM_OPTIONS = {
  reason: Param, from: Param, to: Param, by: Param, actor: Param, tokenId: TokenId.optional(), subscription: Param, days: Param, now: Param, limit: Param, after: Param, order: Param,
} satisfies Record<keyof typeof PARAMS, z.ZodType<string | undefined>>;

const Options = z.object({
  name: z.string().refine((n) => Object.hasOwn(COMPLIANCE_QUERIES, n), `query name must be one of ${COMPLIANCE_QUERY_NAMES.join(', ')}`),
  store: StoreArg,
  signing: SigningArg,
  data: PathArg.optional(),
  json: z.boolean().default(false),
  csv: z.boolean().default(false),
  ...ServerOptions,
  ...PARAM_OPTIONS,
});

/**
 * One line per row: the proving position first, then the row's other fields, each through `printable` (found in
 * review: a correlationId holding a line break and escape sequences planted rows and terminal escapes in the output).
 */
const line = (row: Record<string, unknown>): string =>
  [
    `@${printable(String(row['position']))}`,
    ...Object.entries(row)
      .filter(([k]) => k !== 'position')
      .map(([k, v]) => `${printable(k)}=${typeof v === 'object' ? json(v).replace(/\s+/g, ' ') : printable(String(v))}`),
  ].join('  ');

/** Counted at most this far: a folder whose read models are being rebuilt is behind by its whole log. */
const BEHIND_COUNT_LIMIT = 100_000;

/**
 * A count of events to handle as said to an operator: one whose count stopped at its limit (`eventsBehindAtLeast`,
 * which projectionLag and the live lag set) is that many or more, never taken for the exact lag (`credence projections
 * status` says its own so). Judged by that flag, not by the count against the limit: a read that stopped at its limit
 * counts fewer when it passed over records (at or below the checkpoint, another application's), review 398.
 */
export const countUpTo = (count: number, atLeast: boolean | undefined): string => (atLeast === true ? `${count} or more` : String(count));

/** The cascade's name and event types, what its checkpoint's lag is counted by: it sends no command from here. */
const NO_COMMANDS: CommandSink = {
  execute: () => Promise.reject(new Error('query: the cascade is only counted here, it sends no command')),
  executeAsSystem: () => Promise.reject(new Error('query: the cascade is only counted here, it sends no command')),
  view: () => Promise.reject(new Error('query: the cascade is only counted here, it reads no entity')),
  clock: systemClock,
};

interface LocalAnswer {
  readonly answer: ComplianceAnswer;
  readonly eventsBehind: number;
  /** Of `eventsBehind`, the lag of the read models the answer reads (audit, compliance). */
  readonly readModelsBehind: number;
  /** For a query whose rows include the cascade's work to come (CASCADE_PENDING): the events the cascade has not handled. */
  readonly cascadeBehind: number;
  /** `readModelsBehind` and `cascadeBehind` are the least they are: a count stopped at its limit (countUpTo). */
  readonly readModelsBehindAtLeast: boolean;
  readonly cascadeBehindAtLeast: boolean;
}

const runLocal = async (
  name: ComplianceQueryName,
  params: unknown,
  cursor: ComplianceCursor | undefined,
  args: z.infer<typeof Options>,
  io: Io,
): Promise<LocalAnswer> => {
  // As the server refuses it (400 cursor_form), before the folder is opened: a provisioned cursor naming one event by
  // its key and another by its tag would page after rows already read (review 403).
  const twoPositions = cursorOfTwoPositions(name, cursor, (params as { readonly after?: unknown }).after, '--after');
  if (twoPositions !== undefined) throw new UsageError(`--after: ${twoPositions}`);
  await warnOfUnknownVariables(io);
  const signing = signingPolicyOption(args.signing, io);
  const { data, store, servedFrom } = openLocalStore(args, io);
  // As the server refuses it (409): an `after` past the store's head would answer an empty last page, which a pager
  // reads as "no more rows". Before the read models are opened or brought up to the head: a refusal writes nothing.
  // A tagged cursor whose event this folder's log does not hold there is of another log (review 199), as the server
  // refuses it: paging after it would skip this log's rows up to it without a word.
  const after = positionOfAfter((params as { readonly after?: unknown }).after);
  try {
    const head = await store.headPosition();
    const refused = cursor?.endedAt === undefined ? undefined : await cursorRefused(store, cursor.endedAt, head);
    const beyond = after === undefined ? undefined : resumePointNotInLog(after, head);
    const said = refused ?? (beyond === undefined ? undefined : `${beyond}; ${FROM_THE_START}`);
    if (said !== undefined) throw new UsageError(`--after: ${said}`);
  } catch (error) {
    await store.close();
    throw error;
  }
  const db = openReadModels({ dir: data });
  try {
    const lock = lockUnlessHeld(data, io, 'query');
    let eventsBehind = 0;
    // The largest of counts one of which stopped at its limit is at least that (that one may be the largest).
    let readModelsBehindAtLeast = false;
    let cascadeBehindAtLeast = false;
    // The read models the server counts for this query (review 305: the cascade's, for the queries listing its work to
    // come), each by the lag of its checkpoint in the folder; the cascade is never run here, only counted.
    const counted = readModelsCountedFor(name);
    const cascade = counted.includes('cascade') ? cascadeProcessManager(NO_COMMANDS) : undefined;
    const cascadeLag = async (): Promise<number> => {
      if (cascade === undefined) return 0;
      const lag = await projectionLag(db, store, cascade, BEHIND_COUNT_LIMIT);
      cascadeBehindAtLeast = lag.eventsBehindAtLeast === true;
      return lag.eventsBehind;
    };
    let cascadeBehind = 0;
    if (lock === undefined) {
      db.pragma('query_only = ON');
      assertSetUp(db, data, 'query');
      // Read as the holder keeps them: a service behind its store, or a rebuild under way, answers from less than
      // the log holds, and the answer says how much less (as an answer from --server does).
      for (const projection of readModelProjections(signing)) {
        if (!(counted as readonly string[]).includes(projection.name)) continue;
        const lag = await projectionLag(db, store, projection, BEHIND_COUNT_LIMIT);
        eventsBehind = Math.max(eventsBehind, lag.eventsBehind);
        if (lag.eventsBehindAtLeast === true) readModelsBehindAtLeast = true;
      }
      cascadeBehind = await cascadeLag();
    } else {
      try {
        const runner = new ProjectionRunner({ db, store, projections: readModelProjections(signing) });
        // Read models of another log than a store the folder is not served from (--store naming another) would be
        // reset and rebuilt from it by the runner: a read does not put another store's rows in the folder (review 280).
        // From the folder's own store (an older events.db restored) they are rebuilt, as the service's next start would.
        const other = servedFrom ? [] : await checkpointsOfAnotherLog(db, store, runner.names);
        if (other.length > 0) throw readModelsOfAnotherLog(other, data);
        await runner.catchUp();
        // The cascade is the service's to run (it sends commands): stopped behind the store, its revocations are
        // work still to do, which the answer counts as the server's does, and the note says (review 305).
        cascadeBehind = await cascadeLag();
      } finally {
        lock.release();
      }
    }
    const readModelsBehind = eventsBehind;
    eventsBehind = Math.max(eventsBehind, cascadeBehind);
    // As the server answers: a subscription the read models have not reached yet (behind, or being rebuilt) while the
    // store holds it is no rows, the lag said above, not "names no M2M Service Subscription" (review 272).
    const answer = await answeredOrBehind(() => answerQuery(name, db, params, systemClock.now()), store, eventsBehind);
    // Tagged with the event it ends at, as the server's: the cursor then names this log, and this query's parameters.
    const nextAfter = await taggedNextAfter(store, answer, undefined, queryDigestOf(name, params));
    return {
      answer: { ...answer, ...(nextAfter !== undefined ? { nextAfter } : {}) },
      eventsBehind,
      readModelsBehind,
      cascadeBehind,
      readModelsBehindAtLeast,
      cascadeBehindAtLeast,
    };
  } finally {
    db.close();
    await store.close();
  }
};

/** The refusal of read models built from another log than the store `--store` names: each named, and what to do. */
const readModelsOfAnotherLog = (found: readonly OtherLog[], data: string): UsageError =>
  new UsageError([
    ...found.map((o) => `--store: the read models of ${data} were built from another log: ${describeOtherLog(o)}`),
    `a query does not rebuild them from the store --store names: read with the store they were built from, or query a copy of the folder without its read models (readmodels.db)`,
  ]);

const FROM_THE_START = 'page again from the start (without --after)';

/**
 * Why this folder's log does not page after a tagged cursor, said whole; none when it holds the event the cursor names.
 * A server's cursor at a pseudonym's event carries a tag keyed under its pseudonym key (compliance-rows.ts), which a
 * command on the data folder does not hold: refused as what it is, not as another log's (review 211: the server's own
 * cursor was called foreign), and never taken unchecked, since the keyed check is what keeps a guess from being confirmed.
 */
const cursorRefused = async (store: EventStore, endedAt: ResumePoint, head: bigint | undefined): Promise<string | undefined> => {
  const beyond = resumePointNotInLog(endedAt.position, head);
  if (beyond !== undefined) return `${beyond}; ${FROM_THE_START}`;
  if (await cursorKeyedAt(store, endedAt.position)) return keyedAtPseudonym(endedAt.position);
  return (await holdsCursorEvent(store, endedAt)) ? undefined : `${otherLogOf(endedAt.position)}; ${FROM_THE_START}`;
};

/** Said of a tagged cursor at a pseudonym's event: which cursor it is cannot be told here, a server's or another log's. */
const keyedAtPseudonym = (position: bigint): string =>
  `the event at position ${position} of this log is a pseudonym's, where a server keys a cursor's tag under its pseudonym ` +
  "key, which this command on the data folder does not hold: it cannot check that the cursor is this log's (a server's " +
  `own, or one of another log): page after it with --server, or ${FROM_THE_START}: a cursor handed out here at a ` +
  "pseudonym's event is a bare position";

const otherLogOf = (position: bigint): string =>
  `the event at position ${position} of this log is not the one that cursor was given for, so it is a cursor of another log (another ` +
  "folder or server, or a store restored from an older backup), and paging after it would skip this log's rows up to it without a word";

const catalog = (): string =>
  ['', 'Queries:', ...COMPLIANCE_QUERY_NAMES.map((n) => `  ${n.padEnd(22)} ${COMPLIANCE_QUERIES[n].summary}`)].join('\n');

/**
 * `credence query <name> [--json] [params]`: a compliance query over the read models (after bringing the audit
 * and compliance projections up to the head of the store), or over the API with --server. Every row names the
 * global position that proves it.
 */
export const register: RegisterCommands = (program, io) => {
  let command: Command = withJson(withServer(withLocalStore(program.command('query'))))
    .description('compliance queries; every row carries the global position that proves it')
    .argument('<name>', `the query: ${COMPLIANCE_QUERY_NAMES.join(', ')}`)
    .option('--signing <file>', "the deployment's request-signing policy (JSON), so the audit trail records verified / invalid")
    .option(
      '--csv',
      'with --server: the rows as CSV; to a pipe or file exactly as the server sends it (RFC 4180), on a terminal with control characters shown escaped (\\u000a)',
    );
  for (const flag of FLAGS) command = command.option(`${flagOf(flag)} <value>`, PARAMS[flag]);
  command.addHelpText('after', catalog).action(
    handler(io, async (name: string, opts: Record<string, unknown>) => {
      const args = parseOptions(command, Options, { ...opts, name });
      const queryName = args.name as ComplianceQueryName;
      const raw = Object.fromEntries(FLAGS.flatMap((f) => (args[f] === undefined ? [] : [[f, args[f]]]))) as Record<string, string>;
      // The query's own schema reads the cursor without its tag; a server is sent it whole, and checks the tag itself.
      const cursor = raw['after'] === undefined ? undefined : complianceCursorOf(raw['after']);
      const params = COMPLIANCE_QUERIES[queryName].params.safeParse(cursor === undefined ? raw : { ...raw, after: cursor.after });
      if (!params.success) {
        throw new UsageError(params.error.issues.map((issue) => daysPastTheirDigits(issue, raw['days']) ?? cliIssueText(queryName)(issue)));
      }
      const target = readTarget(args, io);
      if (target === undefined) {
        if (args.csv) throw new UsageError('--csv: CSV comes from a server (--server); use --json locally');
        // As the server refuses it (400 cursor_of_another_query), before the folder is opened: a cursor of another
        // query or other parameters would skip or repeat rows without a word (review 272). A server checks its own.
        const another = cursorOfAnotherQuery(cursor, queryName, params.data, '--after');
        if (another !== undefined) throw new UsageError(`--after: ${another}`);
        const { answer, eventsBehind, readModelsBehind, cascadeBehind, readModelsBehindAtLeast, cascadeBehindAtLeast } = await runLocal(queryName, params.data, cursor, args, io);
        if (readModelsBehind > 0 || readModelsBehindAtLeast) {
          io.err(`note: the read models were ${countUpTo(readModelsBehind, readModelsBehindAtLeast)} event(s) behind the store (the process holding the folder keeps them): rows those events prove may be missing`);
        }
        if (cascadeBehind > 0 || cascadeBehindAtLeast) {
          io.err(
            `note: the revocation cascade has ${countUpTo(cascadeBehind, cascadeBehindAtLeast)} event(s) of the store still to handle (the service runs it, at its start ` +
              'when stopped): its revocations are pending, so rows it would end or add may be listed or missing',
          );
        }
        // The largest of counts one of which stopped at its limit is at least that (as the server's answer says it).
        const atLeast = readModelsBehindAtLeast || cascadeBehindAtLeast ? true : undefined;
        printRows(io, queryName, raw, answer.rows as readonly Record<string, unknown>[], args.json, eventsBehind, atLeast, pageOf(answer));
        return 0;
      }
      if (args.signing !== undefined) throw new UsageError('--signing: the server holds its own signing policy; give it only with --data/--store');
      // Refused rather than one of them dropped without a word (review 150: --csv won, and --json was unheeded).
      if (args.csv && args.json) throw new UsageError('--json: give --csv or --json, not both');
      const client = clientOf(target);
      if (args.csv) {
        const { csv, eventsBehind, eventsBehindAtLeast, truncated, nextAfter } = await client.complianceCsv(queryName, raw);
        noteBehind(io, eventsBehind, eventsBehindAtLeast);
        // To a pipe or a file, the CSV as the server sent it (RFC 4180: a cell's line break stays one, in quotes, so
        // a script reads back what is stored); only a terminal gets it escaped, one record per line (printableCsv).
        if (io.stdoutIsTerminal === false) io.out(csv.endsWith('\n') ? csv.slice(0, -1) : csv);
        else io.out(printableCsv(csv.replace(/\r?\n$/, '')));
        notePage(io, { truncated, nextAfter });
        return 0;
      }
      const answer = await client.compliance(queryName, raw);
      noteBehind(io, answer.eventsBehind, answer.eventsBehindAtLeast);
      printRows(io, queryName, raw, answer.rows, args.json, answer.eventsBehind, answer.eventsBehindAtLeast, pageOf(answer));
      return 0;
    }),
  );
};

/**
 * Said on stderr, so that rows on stdout stay what a script reads: the answer may lack what those events prove. A count
 * the server said stopped at its limit is that many or more (countUpTo; review 413: it was printed as exact).
 */
const noteBehind = (io: Io, eventsBehind: number | undefined, atLeast: true | undefined): void => {
  if (eventsBehind !== undefined && eventsBehind > 0) {
    io.err(`note: the server's read models were ${countUpTo(eventsBehind, atLeast)} event(s) behind its store when it answered: rows those events prove may be missing`);
  }
};

/** Whether an answer was cut at its limit, and where its next page starts (local and server answers alike). */
interface PageNote {
  readonly truncated?: boolean | undefined;
  readonly nextAfter?: bigint | string | undefined;
}
const pageOf = (answer: PageNote): PageNote => ({ truncated: answer.truncated, nextAfter: answer.nextAfter });

const printRows = (
  io: Io,
  name: string,
  params: Record<string, string>,
  rows: readonly Record<string, unknown>[],
  asJson: boolean,
  eventsBehind: number | undefined,
  eventsBehindAtLeast: true | undefined,
  page: PageNote,
): void => {
  const next = page.nextAfter === undefined ? {} : { nextAfter: String(page.nextAfter) };
  const behind = eventsBehind === undefined ? {} : { eventsBehind, ...(eventsBehindAtLeast === true ? { eventsBehindAtLeast } : {}) };
  if (asJson) io.out(json({ query: name, params, ...behind, rows, ...(page.truncated !== undefined ? { truncated: page.truncated } : {}), ...next }));
  else {
    io.out(`${name}: ${rows.length} row${rows.length === 1 ? '' : 's'}`);
    for (const row of rows) io.out(`  ${line(row)}`);
  }
  notePage(io, page);
};

/** On stderr, as the lag note: a script reading stdout is told its answer is not the whole of it. */
const notePage = (io: Io, page: PageNote): void => {
  if (page.truncated !== true) return;
  io.err(
    page.nextAfter !== undefined
      ? `note: more rows match: the next page is --after ${printable(String(page.nextAfter))}`
      : `note: more rows match than --limit: narrow the parameters, or raise --limit (at most ${MAX_ROWS})`,
  );
};

export const query = (argv: string[], io: Io): Promise<number> => runCommands([register], ['query', ...argv], io);
