import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { workerLoader } from '../adapters/replay-workers/worker-bundle.ts';

/*
 * A source edited while the bundle is built: esbuild (a separate process) reads it at one instant, the manifest's hash
 * must be of those very bytes. The edit is made at the first read of the file by this process (node:fs wrapped), which
 * is either the read esbuild compiles (then the bundle holds the edit) or a read after esbuild's (then the bundle holds
 * the old text and must be refused as stale): in no case may a bundle whose code differs from the file be run.
 */
const edit = vi.hoisted(() => ({ file: '', text: '', when: 'before' as 'before' | 'after', done: false }));

vi.mock('node:fs', async (original) => {
  const fs = await original<typeof import('node:fs')>();
  const readFileSync = ((path: unknown, ...rest: unknown[]) => {
    const target = typeof path === 'string' && path === edit.file && !edit.done;
    if (target && edit.when === 'before') {
      edit.done = true;
      fs.writeFileSync(edit.file, edit.text);
    }
    const content = (fs.readFileSync as (...a: unknown[]) => unknown)(path, ...rest);
    if (target && edit.when === 'after') {
      edit.done = true;
      fs.writeFileSync(edit.file, edit.text);
    }
    return content;
  }) as typeof fs.readFileSync;
  return { ...fs, default: { ...fs, readFileSync }, readFileSync };
});

describe('a replay worker bundle built while one of its sources is edited', () => {
  const dirs: string[] = [];
  afterEach(() => dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));

  for (const when of ['before', 'after'] as const) {
    it(`is never used with code other than the file's (edit ${when} this process reads the file)`, async () => {
      const dir = mkdtempSync(join(tmpdir(), 'credence-bundle-edit-'));
      dirs.push(dir);
      const file = join(dir, 'reader.ts');
      writeFileSync(file, "export const edition = 'first-edition';\n");
      Object.assign(edit, { file, text: "export const edition = 'second-edition';\n", when, done: false });
      const url = pathToFileURL(file).href;

      const loader = await workerLoader([url], { cacheDir: join(dir, 'cache') });
      expect(edit.done).toBe(true);
      expect(readFileSync(file, 'utf8')).toContain('second-edition');
      if (loader.kind === 'bundle') {
        const bundled = readFileSync(fileURLToPath(loader.modules.get(url)!), 'utf8');
        expect(bundled).toContain('second-edition');
        expect(bundled).not.toContain('first-edition');
      } else {
        expect(loader.reason).toMatch(/stale: its input .*reader\.ts changed/);
      }
      // Whatever this build left, the next use runs only a bundle of the file as it is now.
      const next = await workerLoader([url], { cacheDir: join(dir, 'cache') });
      expect(next.kind).toBe('bundle');
      if (next.kind === 'bundle') expect(readFileSync(fileURLToPath(next.modules.get(url)!), 'utf8')).toContain('second-edition');
    }, 180_000);
  }
});
