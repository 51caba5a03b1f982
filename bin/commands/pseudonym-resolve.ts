import type { Command } from 'commander';
import { z } from 'zod';
import { ResolutionReason } from '../../domain/commands/index.ts';
import { Pseudonym } from '../../domain/events/pseudonym.ts';
import { json, type Io } from '../io.ts';
import { printable } from '../printable.ts';
import { EXIT, handler, parseOptions } from '../program.ts';
import { clientOf, NewCommandIdArg, serverTarget, ServerOptions, withJson, withServer } from './options.ts';
import { namingUnknownOutcome, printRecordedOutcome, signedOnce, SigningOptions, signingOptionIssues, withSigningOptions } from './submit.ts';

const Args = z
  .object({
    ...ServerOptions,
    json: z.boolean().default(false),
    pseudonym: Pseudonym,
    reason: ResolutionReason,
    commandId: NewCommandIdArg.optional(),
    ...SigningOptions,
  })
  .superRefine(signingOptionIssues);

/**
 * `credence pseudonym resolve <pseudonym> --reason <text>`: an auditor's resolution (POST /v1/pseudonyms/resolutions;
 * SER-025), recorded with the auditor and the reason before the server names the node behind the pseudonym. With
 * --sign-key it is signed as the auditor (SER-016), as a signing policy may require (review 158: it could not be).
 */
export const addPseudonymResolve = (parent: Command, io: Io): void => {
  const command: Command = withSigningOptions(withJson(withServer(parent.command('resolve'))))
    .description('resolve a pseudonym to its node (auditor): the resolution is recorded with your reason first')
    .argument('<pseudonym>', 'the pseudonym, p- and 26 base32 characters')
    .requiredOption('--reason <text>', 'why the identity is needed (a case reference), recorded with the resolution')
    .option('--command-id <uuid>', 'idempotency key: the same id again answers the first resolution and records nothing more (default: a new UUID)');
  command.action(
    handler(io, async (pseudonym: string, opts: Record<string, unknown>) => {
      const args = parseOptions(command, Args, { ...opts, pseudonym });
      const target = serverTarget(args, io);
      const commandId = args.commandId ?? crypto.randomUUID();
      const data = { pseudonym: args.pseudonym, reason: args.reason };
      // The server records the token's subject as an auditor: the signature covers exactly that command.
      const signature = signedOnce(args, target.token, 'auditor', { type: 'resolvePseudonym', data, metadata: { commandId } });
      const answer = await namingUnknownOutcome(
        io,
        commandId,
        clientOf(target).resolvePseudonym({ ...data, commandId, ...(signature !== undefined ? { signature } : {}) }),
      );
      printRecordedOutcome(
        io,
        { type: 'resolvePseudonym', commandId, at: answer.position !== undefined ? `@${answer.position}` : undefined },
        args.json ? json(answer) : printable(`${answer.pseudonym} is node ${answer.nodeId} (epoch ${answer.epoch}); resolution recorded at position ${answer.position ?? '?'}`),
      );
      return EXIT.done;
    }),
  );
};
