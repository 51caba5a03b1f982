import { caIds } from '../../../adapters/driven/pki/index.ts';
import type { ServiceConfig } from '../../../adapters/http/index.ts';
import type { Io } from '../../io.ts';
import { runCommands } from '../../program.ts';
import { register as caCommands } from '../ca.ts';

/** The CA the demo makes: `default` certifies every node without a CA of its own M2M-Sub-ID (docs/pki.md). */
export const DEMO_CA_ID = 'default';

/** True when the data folder has no issuing CA yet (the demo then makes one before the fleet is provisioned). */
export const needsDemoCa = (config: ServiceConfig): boolean => caIds(config.data).length === 0;

/**
 * `credence ca init --data <data>`, exactly as an operator types it (a P-256 root whose key the Secure Environment
 * generates and keeps), run before the service that will load it starts: the command takes the data folder's lock.
 * Its JSON answer is read back for the line shown; a refusal stops the demo with the command's own words.
 */
export const createDemoCa = async (config: ServiceConfig, io: Io): Promise<void> => {
  const out: string[] = [];
  const err: string[] = [];
  const argv = ['ca', 'init', '--data', config.data, '--id', DEMO_CA_ID, '--json'];
  const code = await runCommands([caCommands], argv, { out: (l) => out.push(l), err: (l) => err.push(l), ...(io.env !== undefined ? { env: io.env } : {}) });
  if (code !== 0) throw new Error(`credence ${argv.join(' ')} failed (exit ${code}): ${err.join(' ')}`);
  const made = JSON.parse(out.join('\n')) as { subject?: unknown; keyKind?: unknown };
  io.out(`  issuing CA: credence ca init --data ${config.data} made "${String(made.subject)}" (${String(made.keyKind)}, its key in the Secure Environment);`);
  io.out('  each node\'s service certificate is issued from the CSR it sends during remote provisioning');
};
