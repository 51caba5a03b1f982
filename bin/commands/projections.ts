import { z } from 'zod';
import { systemClock } from '../../adapters/driven/clock/index.ts';
import { createEngine } from '../../adapters/engine/index.ts';
import { openReadModels } from '../../adapters/driven/readmodels/index.ts';
import { systemProjections } from '../../adapters/runtime/projections.ts';
import { ProjectionRunner } from '../../projections/runtime/index.ts';
import { json, parseCli, type Io } from '../io.ts';
import { openExistingStore, readModelDir, STORE_OPTION, StoreArg } from './open-store.ts';
import { readSigningPolicy, SIGNING_OPTION, SigningArg } from './signing-option.ts';

const Args = z.object({
  store: StoreArg,
  signing: SigningArg,
  data: z.string().min(1).optional(),
  json: z.boolean().default(false),
  positionals: z.union([
    z.tuple([]).transform(() => ({ action: 'status' as const })),
    z.tuple([z.literal('status')]).transform(() => ({ action: 'status' as const })),
    z.tuple([z.literal('rebuild'), z.string().min(1)]).transform(([, name]) => ({ action: 'rebuild' as const, name })),
  ], { error: 'expected: status | rebuild <name|all>' }),
});

/**
 * `credence projections [status] [--json]`: each projection's checkpoint and lag (events and seconds behind).
 * `credence projections rebuild <name|all>`: empties a read model and replays it from position 0. The projections
 * are the composition root's (adapters/runtime), with the signing policy of `--signing`. Pseudonym rotation needs
 * the Secure Environment's key and is rebuilt by the process that holds it.
 */
export const projections = async (argv: string[], io: Io): Promise<number> => {
  const args = parseCli(argv, { ...STORE_OPTION, ...SIGNING_OPTION, data: { type: 'string' }, json: { type: 'boolean' } }, Args, io);
  if (args === undefined) return 2;
  const signing = readSigningPolicy(args.signing, io);
  if (signing === false) return 2;
  const data = readModelDir(args.data, args.store);
  const store = openExistingStore(data, io, args.store);
  if (store === undefined) return 2;
  const db = openReadModels({ dir: data });
  const engine = createEngine({ store, clock: systemClock });
  const { projections } = systemProjections({ engine, ...(signing !== undefined ? { signing } : {}) });
  const runner = new ProjectionRunner({ db, store, projections });
  try {
    const command = args.positionals;
    if (command.action === 'rebuild') {
      const names = command.name === 'all' ? runner.names : [command.name];
      const unknown = names.filter((n) => !runner.names.includes(n));
      if (unknown.length > 0) {
        io.err(`error: unknown projection ${unknown.join(', ')} (known: ${runner.names.join(', ')}, all)`);
        return 2;
      }
      for (const name of names) {
        const count = await runner.rebuild(name);
        io.out(`rebuilt ${name} from position 0: ${count} events`);
      }
      return 0;
    }
    const lags = [];
    for (const name of runner.names) lags.push(await runner.lag(name));
    if (args.json) io.out(json(lags));
    else {
      io.out(`${'projection'.padEnd(12)} ${'checkpoint'.padStart(12)} ${'head'.padStart(12)} ${'behind'.padStart(9)} ${'seconds'.padStart(9)}`);
      for (const l of lags) {
        io.out(`${l.name.padEnd(12)} ${String(l.checkpoint ?? '-').padStart(12)} ${String(l.head ?? '-').padStart(12)} ${String(l.eventsBehind).padStart(9)} ${l.secondsBehind.toFixed(0).padStart(9)}`);
      }
    }
    return 0;
  } finally {
    db.close();
    await store.close();
  }
};
