import { WholeNumber } from '../../../domain/whole-number.ts';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { z } from 'zod';
import { CredentialId, NodeId } from '../../../domain/ids.ts';
import { preparePrivateDir } from '../../../adapters/driven/files/index.ts';
import { assertNotWritableByOthers } from '../../../adapters/driven/files/private-files.ts';
import { EXIT, handler, parseOptions } from '../../program.ts';
import { json, type Io } from '../../io.ts';
import { printable } from '../../printable.ts';
import { renderProgress } from '../../progress.ts';
import { PathArg, progressStream, serverTarget, withJson } from '../options.ts';
import { Duration } from './duration.ts';
import { runFleet, type FleetSummary } from './fleet.ts';
import { sayOnStderr } from './folder-lock.ts';
import { existingFolder } from './folder-option.ts';
import { Server, withServerUrl, withToken } from './server-options.ts';
import { withSigner } from './signed-target.ts';
import { SigningOptions, signingOptionIssues, withSigningOptions } from '../submit.ts';

/** The signals that end a CLI run from outside (Ctrl-C, a kill, the terminal closing). */
const ENDING_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

/**
 * Removes `folder` when the run ends: at the returned call, or on a signal, after which the signal's default action
 * ends the process as it would have without this listener (the exit status says which signal).
 */
const removedOnSignal = (folder: string): (() => void) => {
  const remove = (): void => rmSync(folder, { recursive: true, force: true });
  const onSignal = (signal: NodeJS.Signals): void => {
    stop();
    remove();
    process.kill(process.pid, signal);
  };
  const stop = (): void => {
    for (const signal of ENDING_SIGNALS) process.off(signal, onSignal);
  };
  for (const signal of ENDING_SIGNALS) process.on(signal, onSignal);
  return () => {
    stop();
    remove();
  };
};

/**
 * The ids runFleet makes from --prefix must keep their rules too, the longest of them `<prefix>-<count>-bootstrap`
 * (a credential id): checked before any folder is made or anything sent (review 218: `--prefix a/b` made the --dir
 * folder, then came back as the server's `body.data.subscriptionId`, exit 1). The prefix's own characters are NodeId's.
 */
const prefixIssues = (o: { prefix?: string | undefined; count: number }, ctx: z.RefinementCtx): void => {
  // A prefix its own rule refused is said once, by that rule.
  if (o.prefix === undefined || !NodeId.safeParse(o.prefix).success) return;
  const longest = `${o.prefix}-${o.count}-bootstrap`;
  const id = CredentialId.safeParse(longest);
  if (!id.success) ctx.addIssue({ code: 'custom', path: ['prefix'], message: `too long for --count ${o.count}: ${longest.length > 64 ? `${longest.slice(0, 16)}…-bootstrap` : longest}, the longest id made from it, breaks the id rule: ${id.error.issues[0]!.message}` });
};

export const registerFleet = (device: Command, io: Io): void => {
  const Options = z.object({
    count: WholeNumber(1, 100_000),
    concurrency: WholeNumber(1, 256),
    dir: z.string().min(1).max(4096).optional(),
    prefix: NodeId.optional(),
    lifetime: Duration,
    ...Server,
    token: z.string().optional(),
    tokenFile: PathArg.optional(),
    json: z.boolean().optional(),
    ...SigningOptions,
  }).superRefine(signingOptionIssues).superRefine(prefixIssues);
  withSigningOptions(withJson(withToken(withServerUrl(device.command('fleet')), 'to register, enrol and configure')))
    .description('N simulated devices against a server: factory, enrolment, remote provisioning and association for each')
    .requiredOption('--count <n>', 'how many devices')
    .option('--concurrency <n>', 'devices run at once', '4')
    .option('--dir <folder>', 'keep the devices in this folder (default: a temporary folder, removed at the end or on Ctrl-C)')
    .option('--prefix <prefix>', 'node ids are <prefix>-1 … <prefix>-N (default: fleet-<random>)')
    .option('--lifetime <duration>', 'association lifetime asked for with its unit, s, m, h, d or y, e.g. 30d', '30d')
    .action(
      handler(io, async (raw: Record<string, unknown>, command: Command) => {
        const o = parseOptions(command, Options, raw);
        const target = serverTarget(o, io);
        // A --dir that is a file, or open to group or others, is said naming --dir before any folder is made or anything
        // is sent (review 417: a file was `invalid data folder: data: …`).
        const given = o.dir !== undefined ? resolve(o.dir) : undefined;
        const there = given !== undefined ? existingFolder(given, '--dir') : undefined;
        if (given !== undefined && there !== undefined) assertNotWritableByOthers(given, there, '--dir', 'fleet folder');
        const root = given ?? mkdtempSync(join(tmpdir(), 'credence-fleet-'));
        // The temporary devices hold private keys and KEKs: an interrupted run removes them too.
        const forget = o.dir === undefined ? removedOnSignal(root) : () => {};
        const prefix = o.prefix ?? `fleet-${Date.now().toString(36)}`;
        const stream = progressStream(io, o.json);
        // A line said while the bar is drawn starts on a line of its own (the bar is drawn again below it).
        let drawn = false;
        const said = sayOnStderr(io, 'fleet');
        const say = (line: string): void => {
          if (drawn) stream?.write('\n');
          drawn = false;
          said(line);
        };
        let summary: FleetSummary;
        try {
          preparePrivateDir(root);
          summary = await withSigner(target, o, (signed) => runFleet(
            signed,
            { count: o.count, concurrency: o.concurrency, root, prefix, lifetimeSeconds: o.lifetime },
            (done) => {
              stream?.write(`\r${renderProgress(done, o.count, 'devices')}`);
              drawn = stream !== undefined;
            },
            say,
          ));
        } finally {
          stream?.write('\n');
          forget();
        }
        if (o.json === true) io.out(json({ prefix, ...(o.dir !== undefined ? { dir: root } : {}), ...summary }));
        else {
          io.out(printable(`${summary.count} devices (${prefix}): ${summary.initialised} initialised, ${summary.provisioned} provisioned, ${summary.associated} associated, ${summary.failed} failed`));
          io.out(printable(`${summary.seconds} s, ${summary.devicesPerSecond} devices/s`));
          for (const f of summary.failures) io.err(printable(`  ${f.nodeId} at ${f.step}: ${f.message}`));
        }
        if (summary.unreachable) return EXIT.unreachable;
        return summary.failed === 0 ? EXIT.done : EXIT.refused;
      }),
    );
};
