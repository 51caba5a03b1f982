import type { Command } from 'commander';
import { COMMAND_CATALOG, COMMAND_TYPES, type CommandType } from '../../domain/commands/index.ts';
import { jsonLimitIssue, MESSAGE_JSON_LIMITS } from '../../domain/json-limits.ts';
import { handler, refuseOptionLikeValue, UsageError, type RegisterCommands } from '../program.ts';
import { jsonOption } from './lifecycle.ts';
import { submit, withCommandOptions } from './submit.ts';

/**
 * Commands of the catalog that POST /v1/commands refuses, each run through its own route (adapters/http/routes/
 * commands.ts OWN_ROUTES) and its own CLI command. Found in review 54: the help listed them as ordinary commands.
 */
const OWN_COMMANDS: Readonly<Partial<Record<CommandType, string>>> = {
  rotatePseudonym: 'credence pseudonym rotate <nodeId>',
  resolvePseudonym: 'credence pseudonym resolve <pseudonym> --reason TEXT',
};

/**
 * The engine's own commands (role `system` alone in the catalog: the record/release bookkeeping its process manager
 * issues), which the server refuses any token (403). Review 331: the help listed them, and `releaseApplicationInstance`
 * was sent to be answered with field errors before the 403.
 */
const enginesOwn = (type: CommandType): boolean => COMMAND_CATALOG[type].roles.every((role) => role === 'system');

const catalog = (): string =>
  [
    '',
    'Command types (domain/commands/catalog.ts; the event each records):',
    ...COMMAND_TYPES.filter((t) => !Object.hasOwn(OWN_COMMANDS, t) && !enginesOwn(t)).map((t) => `  ${t.padEnd(30)} ${COMMAND_CATALOG[t].event}`),
    '',
    'Not sent with credence command (the server refuses them here; each has its own route and command):',
    ...Object.entries(OWN_COMMANDS).map(([t, use]) => `  ${t.padEnd(30)} ${use}`),
  ].join('\n');

/**
 * `credence command <type> --data JSON|@file`: any command of the catalog, its data as given. The server's schema
 * is the judge: a bad field is its 400, printed with every path (exit 1); only JSON that is not JSON, or beyond
 * the message limits, a command with a route of its own (OWN_COMMANDS) and the engine's own, are refused here (exit 2).
 */
export const register: RegisterCommands = (program, io) => {
  const command: Command = withCommandOptions(
    program
      .command('command')
      .description('send any command of the catalog to a server: credence command <type> --data JSON|@file')
      .argument('<type>', 'the command type, e.g. revokeCredential')
      .requiredOption('--data <json|@file>', 'the command data, as JSON text or @file'),
  )
    .addHelpText('after', catalog)
    .action(
      handler(io, async (type: string, opts: Record<string, unknown>) => {
        if (!Object.hasOwn(COMMAND_CATALOG, type)) throw new UsageError(`<type>: unknown command type ${type} (see credence command --help)`);
        // Refused here, before anything is sent (review 218: the server's 400 own_route, exit 1): bad usage naming the
        // command that sends it.
        const own = OWN_COMMANDS[type as CommandType];
        if (own !== undefined) throw new UsageError(`<type>: ${type} is not sent with credence command (SER-025: it runs only through its own route): use ${own} (rule own_route)`);
        if (enginesOwn(type as CommandType)) {
          throw new UsageError(`<type>: ${type} is the engine's own command (role system): Credence records it itself as associations and instances come and go, and refuses it from any token`);
        }
        refuseOptionLikeValue(command, 'data');
        const data = jsonOption('--data', String(opts['data']));
        const tooBig = jsonLimitIssue(data, MESSAGE_JSON_LIMITS);
        if (tooBig !== undefined) throw new UsageError(`--data: ${tooBig.path || '(root)'}: ${tooBig.message}`);
        return submit(io, command, type as CommandType, data, opts);
      }),
    );
};
