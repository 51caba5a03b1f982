/**
 * Review 46: `credence projections` showed `pki 83 / head 84 / behind 0`, read as a contradiction. A checkpoint is
 * the last event the projection handled, and the count is of the events after it of the types it reads: newer events
 * of other types leave it below the head with nothing to do. The column now says `to handle`, and such projections
 * are named as up to date below the table.
 */
import { describe, expect, it } from 'vitest';
import { openSqliteStoreInDir } from '../adapters/driven/store/index.ts';
import { runCli } from './support/cli.ts';
import { cmd, fixture } from './support/fleet.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

const scratch = temporaryFolders('credence-projections-lag-');

describe('credence projections on a folder whose newest events some projections do not read', () => {
  it('says what it counts, and names those below the head with nothing to handle as up to date', async () => {
    const dir = scratch();
    let store = openSqliteStoreInDir(dir);
    await fixture(store).engine.execute(cmd.createSubscription());
    await store.close();
    const rebuilt = await runCli(['projections', 'rebuild', 'all', '--data', dir]);
    expect(rebuilt.code, rebuilt.err).toBe(0);
    // A node registered after the read models caught up: the projections of credentials and PKI read no NodeRegistered.
    store = openSqliteStoreInDir(dir);
    await fixture(store).engine.execute(cmd.registerNode());
    await store.close();
    const { code, out, err } = await runCli(['projections', '--data', dir]);
    expect(code, err).toBe(0);
    const lines = out.split('\n');
    expect(lines[0]).toMatch(/^projection +checkpoint +head +to handle +seconds$/);
    const rows = lines.slice(1).filter((l) => /^\S+ +\S+ +\S+ +\d+ +\d+$/.test(l)).map((l) => l.split(/ +/));
    const belowTheHead = rows.filter(([, checkpoint, head, toHandle]) => checkpoint !== head && toHandle === '0').map(([name]) => name!);
    expect(belowTheHead.length).toBeGreaterThan(0);
    expect(out).toContain(`up to date: ${belowTheHead.join(', ')} (the events after the checkpoint, the last event handled, are of types not read there)`);
  });
});
