import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadServiceConfig } from '../adapters/http/config.ts';
import { runCli } from './support/cli.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

/*
 * Review 47 item 3: `--store esdb://user:password@…` shows in /proc/<pid>/cmdline and shell history, and a config file
 * others can read gives them its `store` password, and neither was said. Like --token, both are now said on stderr
 * (accepted, not refused), with where to put the password instead; the password itself is never printed.
 */
const scratch = temporaryFolders('credence-store-password-');
const PASSWORD = 's3cret-Pa55';
const WITH_PASSWORD = `esdb://admin:${PASSWORD}@127.0.0.1:2113?tls=false`;
const ON_COMMAND_LINE = '--store: the connection string carries a password, which other users of this machine can read in the process list';

const warningsOf = (sources: Parameters<typeof loadServiceConfig>[0]): string[] => {
  const said: string[] = [];
  loadServiceConfig({ ...sources, warn: (message) => said.push(message) });
  return said;
};

const configFile = (mode: number, store: string): string => {
  const file = join(scratch(), 'credence.json');
  writeFileSync(file, JSON.stringify({ store }));
  chmodSync(file, mode);
  return file;
};

/** A data path that cannot be a folder: serve refuses it (exit 2) before it opens the store. */
const aFile = (): string => {
  const file = join(scratch(), 'afile');
  writeFileSync(file, 'not a folder');
  return file;
};

describe('an event store password where others can read it', () => {
  it('serve --store with a password warns on stderr, naming the alternatives, and never prints the password', async () => {
    const run = await runCli(['serve', '--data', aFile(), '--store', WITH_PASSWORD]);
    expect(run.err).toContain(`warning: ${ON_COMMAND_LINE}`);
    expect(run.err).toContain('env CREDENCE_STORE or in the config file');
    expect(`${run.out}\n${run.err}`).not.toContain(PASSWORD);
  });

  it('a read command given --store with a password warns on stderr and never prints the password', async () => {
    const run = await runCli(['history', 'no-such-kind-1', '--store', WITH_PASSWORD]);
    expect(run.code).toBe(2);
    expect(run.err).toContain(`warning: ${ON_COMMAND_LINE}`);
    expect(run.err).toContain('--server URL --token-file FILE');
    expect(`${run.out}\n${run.err}`).not.toContain(PASSWORD);
  });

  it('serve --help says a password in --store shows in ps and names CREDENCE_STORE and the config file', async () => {
    const run = await runCli(['serve', '--help']);
    expect(run.out.replace(/\s+/g, ' ')).toContain('a user:password@ here shows in ps and shell history, prefer CREDENCE_STORE or the config file');
  });

  it('a config file readable by group or others whose store holds a password is warned of; chmod 600 silences it', () => {
    const open = configFile(0o644, WITH_PASSWORD);
    const said = warningsOf({ file: open });
    expect(said).toEqual([`file ${open}: store: the connection string carries a password and the file is readable by group or others; chmod 600 ${open}`]);
    expect(said.join('\n')).not.toContain(PASSWORD);
    expect(warningsOf({ file: configFile(0o600, WITH_PASSWORD) })).toEqual([]);
  });

  it('nothing is said of a store password in the environment, of a store without one, or of a flag without one', () => {
    expect(warningsOf({ env: { CREDENCE_STORE: WITH_PASSWORD } })).toEqual([]);
    // Certificate files that exist: the setting's parse refuses ones that name no file (the client would, connecting).
    const [cert, key] = [join(scratch(), 'c.crt'), join(scratch(), 'c.key')];
    for (const file of [cert, key]) writeFileSync(file, '');
    expect(warningsOf({ flags: { store: `esdb://127.0.0.1:2113?tls=true&userCertFile=${cert}&userKeyFile=${key}` } })).toEqual([]);
    expect(warningsOf({ flags: { store: 'sqlite:./elsewhere' } })).toEqual([]);
    expect(warningsOf({ file: configFile(0o644, 'esdb://127.0.0.1:2113?tls=false') })).toEqual([]);
    expect(warningsOf({ flags: { store: WITH_PASSWORD } })).toEqual([expect.stringContaining(ON_COMMAND_LINE)]);
  });
});
