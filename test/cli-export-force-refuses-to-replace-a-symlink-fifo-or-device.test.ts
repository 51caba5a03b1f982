import { execFileSync } from 'node:child_process';
import { lstatSync, mkdirSync, readFileSync, readlinkSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openSqliteStoreInDir } from '../adapters/driven/store/index.ts';
import { main } from '../bin/cli.ts';
import { capture } from './support/cli.ts';
import { temporaryFolders } from './support/temp-dirs.ts';
import { appendEvents } from './transparency-fixtures.ts';

/*
 * Review 271: `credence export … --out FILE --force` renamed the bundle over whatever was at FILE: a symbolic link
 * (replaced, its target untouched), a FIFO, a device node (run as root, `--out /dev/full --force` turned /dev/full
 * into a regular file), then said `wrote …` and exited 0. --force replaces a regular file only: anything else there is
 * bad usage (exit 2) naming the path and what it is, and it is left as it was. Never tried on a real /dev node: a link
 * and a FIFO in a scratch folder stand for them.
 */

const scratch = temporaryFolders('credence-export-force-');

const cli = async (argv: string[], env: Record<string, string> = {}) => {
  const c = capture();
  const code = await main(argv, { ...c.io, env });
  return { code, out: c.out.join('\n'), err: c.err.join('\n') };
};

/** A data folder holding credential-meter-1's events. */
const aFolderWithEvents = async (): Promise<string> => {
  const dir = scratch();
  const store = openSqliteStoreInDir(dir);
  await appendEvents(store, 3);
  await store.close();
  return dir;
};

const aFifo = (path: string): void => {
  execFileSync('mkfifo', [path]);
};

describe('credence export --out FILE --force', () => {
  it.each([
    ['a symbolic link to a file', 'a symbolic link', (dir: string, out: string) => {
      writeFileSync(join(dir, 'target.json'), 'the target\n');
      symlinkSync(join(dir, 'target.json'), out);
    }],
    ['a symbolic link to nothing', 'a symbolic link', (dir: string, out: string) => symlinkSync(join(dir, 'nowhere.json'), out)],
    ['a symbolic link to a folder', 'a symbolic link', (dir: string, out: string) => {
      mkdirSync(join(dir, 'elsewhere'));
      symlinkSync(join(dir, 'elsewhere'), out);
    }],
    ['a FIFO', 'a FIFO', (_dir: string, out: string) => aFifo(out)],
  ])('given %s at FILE, when exported with --force, then exit 2 naming it and what it is, and it is left as it was', async (_what, named, make) => {
    const dir = await aFolderWithEvents();
    const out = join(dir, 'out.json');
    make(dir, out);
    const before = lstatSync(out);
    const link = before.isSymbolicLink() ? readlinkSync(out) : undefined;

    const forced = await cli(['export', 'credential-meter-1', '--out', out, '--force', '--data', dir]);

    expect(forced.code, forced.err).toBe(2);
    expect(forced.err).toContain(`--out: ${out} is ${named}`);
    expect(forced.out).not.toContain('wrote');
    const after = lstatSync(out);
    expect([after.ino, after.mode]).toEqual([before.ino, before.mode]);
    if (link !== undefined) expect(readlinkSync(out)).toBe(link);
  });

  it('given a symbolic link or a FIFO at FILE, when exported without --force, then exit 2 saying what it is, not to give --force', async () => {
    const dir = await aFolderWithEvents();
    const fifo = join(dir, 'fifo.json');
    aFifo(fifo);
    const refused = await cli(['export', 'credential-meter-1', '--out', fifo, '--data', dir]);
    expect(refused.code, refused.err).toBe(2);
    expect(refused.err).toContain(`--out: ${fifo} is a FIFO`);
    expect(refused.err).not.toContain('give --force');
    expect(lstatSync(fifo).isFIFO()).toBe(true);
  });

  it('given a regular file at FILE, --force still replaces it, and without --force it is still kept', async () => {
    const dir = await aFolderWithEvents();
    const out = join(dir, 'earlier.json');
    writeFileSync(out, 'an earlier bundle\n');
    const kept = await cli(['export', 'credential-meter-1', '--out', out, '--data', dir]);
    expect(kept.code, kept.err).toBe(2);
    expect(kept.err).toContain(`--out: ${out} exists; give --force to replace it`);
    const forced = await cli(['export', 'credential-meter-1', '--out', out, '--force', '--data', dir]);
    expect(forced.code, forced.err).toBe(0);
    expect(JSON.parse(readFileSync(out, 'utf8'))).toHaveProperty('entries');
  });

  describe('a link that appears at FILE while a --server export runs', () => {
    let server: Server;
    let url = '';
    let bundle = '';
    let linkWhileAnswering: { readonly path: string; readonly target: string } | undefined;
    beforeAll(async () => {
      server = createServer((_request, response) => {
        if (linkWhileAnswering !== undefined) symlinkSync(linkWhileAnswering.target, linkWhileAnswering.path);
        response.writeHead(200, { 'content-type': 'application/json' }).end(bundle);
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    });
    afterAll(async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    });

    it('is not replaced by --force either: checked again when the bundle is written', async () => {
      const dir = await aFolderWithEvents();
      const local = join(dir, 'local.json');
      expect((await cli(['export', 'credential-meter-1', '--out', local, '--data', dir])).code).toBe(0);
      bundle = readFileSync(local, 'utf8');
      writeFileSync(join(dir, 'target.json'), 'the target\n');
      const out = join(dir, 'raced.json');
      linkWhileAnswering = { path: out, target: join(dir, 'target.json') };

      const raced = await cli(['export', 'credential-meter-1', '--out', out, '--force', '--server', url], { CREDENCE_TOKEN: 'a.b.c' });

      expect(raced.code, raced.err).toBe(2);
      expect(raced.err).toContain(`--out: ${out} is a symbolic link`);
      expect(lstatSync(out).isSymbolicLink()).toBe(true);
      expect(readFileSync(join(dir, 'target.json'), 'utf8')).toBe('the target\n');
    });
  });
});
