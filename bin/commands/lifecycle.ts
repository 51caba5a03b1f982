import { randomUUID } from 'node:crypto';
import { Option, type Command } from 'commander';
import { CommandSchema, SentCommandSchema } from '../../domain/commands/index.ts';
import { readJsonText } from '../../domain/json-duplicate-names.ts';
import { FILE_LIMITS, readJsonFile } from '../files.ts';
import { handler, refuseOptionLikeValue, UsageError, type RegisterCommands } from '../program.ts';
import { LIFECYCLE_COMMANDS, LIFECYCLE_GROUPS, type LifecycleSpec } from './lifecycle-catalog.ts';
import { addPseudonymRaiseMarksSinceBackup } from './pseudonym-raise-marks-since-backup.ts';
import { addPseudonymResolve } from './pseudonym-resolve.ts';
import { addPseudonymRotate } from './pseudonym-rotate.ts';
import { submit, withCommandOptions } from './submit.ts';

const kebab = (field: string): string => field.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

/** `--receipt '{"version":2,…}'` or `--receipt @receipt.json`: bounded, parsed, not yet checked by any schema. */
export const jsonOption = (flag: string, value: string): unknown => {
  if (value.startsWith('@')) {
    // `@` alone: said so, not "cannot read : ENOENT" (review 331).
    if (value === '@') throw new UsageError(`${flag}: @ without a file name (give @FILE, or the JSON text itself)`);
    const read = readJsonFile(value.slice(1), FILE_LIMITS.json);
    if (!read.ok) throw new UsageError(`${flag}: ${read.message}`);
    return read.value;
  }
  // In bytes, as a file is bounded: in UTF-16 units 600,000 `é` (1.2 MB) were sent, to the server's 413 (review 331).
  if (Buffer.byteLength(value, 'utf8') > FILE_LIMITS.json) throw new UsageError(`${flag}: larger than ${FILE_LIMITS.json} bytes`);
  const read = readJsonText(value);
  if (read.ok) return read.value;
  throw new UsageError(read.issue === undefined ? `${flag}: not JSON (give JSON text or @file)` : `${flag}: ${read.issue.path || '(root)'}: ${read.issue.message}`);
};

/** The option (or argument) a data path came from, so a refusal names what the operator typed. */
const whereFrom = (spec: LifecycleSpec, command: Command, path: string): string => {
  if (path === spec.id.field) return `<${spec.id.name}>`;
  // The longest mapped prefix: `profile.capabilities.1` (the second --capability) came from --capability.
  const segments = path.split('.');
  const prefixes = segments.map((_, n) => segments.slice(0, segments.length - n).join('.'));
  const mapped = prefixes.map((prefix) => spec.flagFor?.[prefix]).find((flag) => flag !== undefined);
  if (mapped !== undefined) return path.includes('.') && spec.flagFor?.[path] === undefined ? `${mapped} (${path})` : mapped;
  const flag = `--${kebab(path.split('.')[0]!)}`;
  return command.options.some((o) => o.long === flag) ? (path.includes('.') ? `${flag} (${path})` : flag) : `data.${path}`;
};

/**
 * The catalog's own schema checks the data before anything is sent, so a bad value is bad usage (exit 2) naming
 * its option; the server checks it again (a refusal there is exit 1 with the body's field paths). A `retry` (under
 * --command-id) is checked as a command as sent, still bounded, not by the rules of new facts (free text, each
 * capability once): the server answers a retry of what an earlier version recorded breaking one with its first
 * outcome, and refuses a new command breaking one itself (review 348: the CLI refused such a retry, exit 2).
 */
const checkData = (spec: LifecycleSpec, command: Command, data: Record<string, unknown>, retry: boolean): void => {
  const schema = retry ? SentCommandSchema : CommandSchema;
  const parsed = schema.safeParse({ type: spec.type, data, metadata: { commandId: randomUUID(), actor: { id: 'cli', role: 'operator' } } });
  if (parsed.success) return;
  const lines = parsed.error.issues
    .filter((issue) => issue.path[0] === 'data')
    .map((issue) => `${whereFrom(spec, command, issue.path.slice(1).map(String).join('.'))}: ${issue.message}`);
  if (lines.length > 0) throw new UsageError(lines);
};

/**
 * The options of `spec` whose default is read from the clock (`--not-before`: now), found by making its data at two
 * instants: a retry under --command-id must send the same command, so they are required with it, and their help says
 * so (review 245: it said only "default: now", and the refusal, exit 2, came as a surprise).
 */
const clockDefaulted = (spec: LifecycleSpec): ReadonlySet<string> => {
  const at = (ms: number): Record<string, unknown> => {
    try {
      return spec.data('x', {}, () => new Date(ms));
    } catch {
      return {};
    }
  };
  const [early, late] = [at(0), at(1)];
  return new Set(Object.keys(late).filter((field) => JSON.stringify(early[field]) !== JSON.stringify(late[field])).map((field) => `--${kebab(field)}`));
};

const addSpec = (parent: Command, spec: LifecycleSpec, io: Parameters<RegisterCommands>[1]): void => {
  const command: Command = parent
    .command(spec.verb)
    .description(`${spec.summary} (${spec.type})`)
    .argument(`<${spec.id.name}>`, `the ${spec.id.field}`);
  const fromClock = clockDefaulted(spec);
  for (const o of spec.options) {
    const long = o.flags.split(' ')[0]!;
    const description = fromClock.has(long) ? `${o.description}, required with --command-id (a retry must send the same time)` : o.description;
    const option = new Option(o.flags, description);
    if (o.required === true) option.makeOptionMandatory();
    if (o.choices !== undefined) option.choices(o.choices);
    command.addOption(option);
  }
  withCommandOptions(command).action(
    handler(io, async (id: string, opts: Record<string, unknown>) => {
      const values = { ...opts };
      for (const o of spec.options) {
        const key = command.options.find((x) => x.flags === o.flags)!.attributeName();
        if (o.flags.includes('<json|@file>') && typeof values[key] === 'string') {
          // Read before parseOptions, which says a value that looks like an option: said so here first (review 331).
          refuseOptionLikeValue(command, key);
          values[key] = jsonOption(o.flags.split(' ')[0]!, values[key] as string);
        }
      }
      const conflict = spec.conflicts?.(values);
      if (conflict !== undefined) throw new UsageError(conflict);
      const data = spec.data(id, values, () => new Date());
      // A retry under --command-id must send the same command, or the server refuses it as another one: a value
      // defaulted from the clock (--not-before: now) differs at every run (found in review).
      if (opts['commandId'] !== undefined && JSON.stringify(spec.data(id, values, () => new Date(0))) !== JSON.stringify(data)) {
        const flag = [...fromClock].find((f) => values[command.options.find((x) => x.long === f)?.attributeName() ?? ''] === undefined) ?? '--not-before';
        throw new UsageError(`${flag}: required with --command-id: its default (now) differs at every run, so the server would refuse a retry as another command`);
      }
      checkData(spec, command, data, opts['commandId'] !== undefined);
      return submit(io, command, spec.type, data, opts, spec.beforeSending?.(data));
    }),
  );
};

/**
 * `credence subscription|node|credential|application|association|pseudonym <verb> <id> [options]`: the operator's
 * lifecycle commands against a server (--server and --token-file/--token, or CREDENCE_URL/CREDENCE_TOKEN). Exit 0 done, 1 refused
 * (the server's problem: title, detail, every field), 2 bad usage, 3 server unreachable.
 */
export const register: RegisterCommands = (program, io) => {
  for (const [group, description] of Object.entries(LIFECYCLE_GROUPS)) {
    const parent = program.command(group).description(description);
    for (const spec of LIFECYCLE_COMMANDS) if (spec.group === group) addSpec(parent, spec, io);
    // Not commands of the catalog sent as they are: the server derives the pseudonym a rotation records, and answers
    // the node a resolution names once it is recorded.
    if (group === 'pseudonym') {
      addPseudonymRotate(parent, io);
      addPseudonymResolve(parent, io);
      addPseudonymRaiseMarksSinceBackup(parent, io);
    }
  }
};
