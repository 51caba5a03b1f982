import { z } from 'zod';
import { systemClock } from '../../adapters/driven/clock/index.ts';
import { openReadModels } from '../../adapters/driven/readmodels/index.ts';
import { readModelProjections } from '../../adapters/runtime/projections.ts';
import { ProjectionRunner } from '../../projections/runtime/index.ts';
import { COMPLIANCE_QUERIES, COMPLIANCE_QUERY_NAMES, type ComplianceQueryName } from '../../projections/compliance/index.ts';
import { json, parseCli, type Io } from '../io.ts';
import { openExistingStore, readModelDir, STORE_OPTION, StoreArg } from './open-store.ts';
import { readSigningPolicy, SIGNING_OPTION, SigningArg } from './signing-option.ts';

const FLAGS = ['reason', 'from', 'to', 'actor', 'subscription', 'days', 'now'] as const;

const Args = z.object({
  store: StoreArg,
  signing: SigningArg,
  data: z.string().min(1).optional(),
  json: z.boolean().default(false),
  ...Object.fromEntries(FLAGS.map((f) => [f, z.string().optional()])),
  positionals: z
    .array(z.string())
    .length(1, `query takes one name: ${COMPLIANCE_QUERY_NAMES.join(', ')}`)
    .refine((p) => Object.hasOwn(COMPLIANCE_QUERIES, p[0]!), `query name must be one of ${COMPLIANCE_QUERY_NAMES.join(', ')}`),
});

/** One line per row: the proving position first, then the row's other fields. */
const line = (row: Record<string, unknown>): string =>
  [`@${String(row['position'])}`, ...Object.entries(row).filter(([k]) => k !== 'position').map(([k, v]) => `${k}=${typeof v === 'object' ? json(v).replace(/\s+/g, ' ') : String(v)}`)].join('  ');

/**
 * `credence query <name> [--json] [params]`: a compliance query over the read models, after bringing the audit
 * and compliance projections up to the head of the store. Every row names the global position that proves it.
 */
export const query = async (argv: string[], io: Io): Promise<number> => {
  const options = Object.fromEntries([
    ['data', { type: 'string' }],
    ['json', { type: 'boolean' }],
    ...FLAGS.map((f) => [f, { type: 'string' }]),
  ]);
  const args = parseCli(argv, { ...options, ...STORE_OPTION, ...SIGNING_OPTION }, Args, io);
  if (args === undefined) {
    for (const name of COMPLIANCE_QUERY_NAMES) io.err(`  ${name.padEnd(22)} ${COMPLIANCE_QUERIES[name].summary}`);
    return 2;
  }
  const name = args.positionals[0] as ComplianceQueryName;
  const definition = COMPLIANCE_QUERIES[name];
  const raw = Object.fromEntries(FLAGS.flatMap((f) => ((args as Record<string, unknown>)[f] === undefined ? [] : [[f, (args as Record<string, unknown>)[f]]])));
  const params = definition.params.safeParse(raw);
  if (!params.success) {
    for (const issue of params.error.issues) io.err(`error: ${issue.path.length ? `--${issue.path.join('.')}` : name}: ${issue.message}`);
    return 2;
  }
  const signing = readSigningPolicy(args.signing, io);
  if (signing === false) return 2;
  const data = readModelDir(args.data, args.store);
  const store = openExistingStore(data, io, args.store);
  if (store === undefined) return 2;
  const db = openReadModels({ dir: data });
  try {
    await new ProjectionRunner({ db, store, projections: readModelProjections(signing) }).catchUp();
    // The name picked the definition and its own schema parsed the parameters, so they match.
    const rows = (definition.run as unknown as (d: typeof db, p: unknown, now: Date) => readonly Record<string, unknown>[])(db, params.data, systemClock.now());
    if (args.json) io.out(json({ query: name, params: raw, rows }));
    else {
      io.out(`${name}: ${rows.length} row${rows.length === 1 ? '' : 's'}`);
      for (const row of rows) io.out(`  ${line(row)}`);
    }
    return 0;
  } finally {
    db.close();
    await store.close();
  }
};
