import { describe, expect, it } from 'vitest';
import { main } from '../bin/cli.ts';
import { capture } from './support/cli.ts';

/*
 * Review 296 item 4a: `credence verify --help` said a bundle is verified against "its tree the checkpoint kept or
 * extending it", but a bundle of a larger tree than --checkpoint's fails consistency_unproven (a bundle carries no
 * consistency proof; README says so). The help now says what the command does.
 */
describe('credence verify --help, of a bundle and --checkpoint', () => {
  it('says the bundle must be of the kept checkpoint\'s tree, a larger one failing consistency_unproven, and not that one extending it passes', async () => {
    const c = capture();
    expect(await main(['verify', '--help'], c.io)).toBe(0);
    const help = c.out.join('\n').replace(/\s+/g, ' ');
    expect(help).not.toMatch(/or extending it/);
    expect(help).toContain("with --checkpoint, its tree must be C.txt's: a larger one fails consistency_unproven (check it with --from/--to; see README)");
  });
});
