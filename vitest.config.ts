import { readdirSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { defineConfig } from 'vitest/config';

/**
 * Test files that replace a module (`vi.mock`), a global, the timers or a spied function, or reset the module
 * registry: they run each in a fresh module registry, so that nothing they replace reaches another file.
 */
const REPLACES_SHARED_STATE = /\bvi\.(mock|doMock|hoisted|spyOn|stubGlobal|stubEnv|useFakeTimers|resetModules)\b/;

const testFiles = (dir: string): string[] =>
  readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith('.test.ts'))
    .map((entry) => join(entry.parentPath, entry.name));

const isolated = testFiles('test').filter((file) => REPLACES_SHARED_STATE.test(readFileSync(file, 'utf8')));

export default defineConfig({
  test: {
    // One more than the cores: vitest's default (CPUs - 1) leaves one of a 2-core machine's cores idle, and most tests
    // wait on servers, browsers, child processes and timers rather than compute. Measured on the 2-core machine: 8.0 min
    // for the suite with two workers against 12.5 min with one; with two workers the clean-clone CI used 1.3 cores.
    maxWorkers: availableParallelism() + 1,
    testTimeout: 60_000,
    hookTimeout: 60_000,
    projects: [
      {
        extends: true,
        // Every other file shares its worker's module registry with the files before it: the product's modules (zod
        // schemas, Fastify, the X.509 libraries) are evaluated once per worker instead of once per file, which was
        // 546 s of the suite's 1,283 s of worker time in CI (71 s shared). Each file still builds its own stores,
        // services and engines; none keeps state in a module.
        test: { name: 'shared', include: ['test/**/*.test.ts'], exclude: isolated, isolate: false },
      },
      { extends: true, test: { name: 'isolated', include: isolated, isolate: true } },
    ],
  },
});
