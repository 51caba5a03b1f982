import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadServiceConfig, serviceConfig } from '../adapters/http/config.ts';
import { HELLO_FLOOR_DEFAULT_MS } from '../adapters/http/service-limits-config.ts';
import { isCredenceError, type FieldIssue } from '../domain/errors.ts';

const dir = mkdtempSync(join(tmpdir(), 'credence-hello-floor-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The issues of the refusal `load` throws. */
const refusal = (load: () => unknown): readonly FieldIssue[] => {
  try {
    load();
  } catch (error) {
    if (isCredenceError(error, 'validation') && error.problem.code === 'validation') return error.problem.issues;
    throw error;
  }
  throw new Error('expected a refusal');
};

/**
 * The least time a device hello is answered in (`limits.helloFloorMs`): a limit like the others, from the file, and
 * from the environment as `CREDENCE_HELLO_FLOOR_MS`, which wins over the file; 0 turns it off.
 */
describe('the hello floor setting', () => {
  it('has a default of some milliseconds, and is read from the file and the environment, the environment winning', () => {
    expect(HELLO_FLOOR_DEFAULT_MS).toBeGreaterThan(0);
    expect(serviceConfig().limits.helloFloorMs).toBe(HELLO_FLOOR_DEFAULT_MS);
    const file = join(dir, 'floor.json');
    writeFileSync(file, JSON.stringify({ limits: { helloFloorMs: 40, bodyLimitBytes: 4096 } }));
    expect(loadServiceConfig({ file }).limits).toMatchObject({ helloFloorMs: 40, bodyLimitBytes: 4096 });
    expect(loadServiceConfig({ file, env: { CREDENCE_HELLO_FLOOR_MS: '0' } }).limits).toMatchObject({ helloFloorMs: 0, bodyLimitBytes: 4096 });
    expect(loadServiceConfig({ env: { CREDENCE_HELLO_FLOOR_MS: '75' } }).limits.helloFloorMs).toBe(75);
  });

  it('is refused out of range, naming the setting and its source', () => {
    expect(refusal(() => serviceConfig({ limits: { helloFloorMs: 1_001 } })).map((i) => i.path)).toEqual(['limits.helloFloorMs']);
    expect(refusal(() => serviceConfig({ limits: { helloFloorMs: -1 } })).map((i) => i.path)).toEqual(['limits.helloFloorMs']);
    const file = join(dir, 'too-long.json');
    writeFileSync(file, JSON.stringify({ limits: { helloFloorMs: 60_000 } }));
    expect(refusal(() => loadServiceConfig({ file })).map((i) => i.path)).toEqual([`file ${file}: limits.helloFloorMs`]);
    const fromEnv = refusal(() => loadServiceConfig({ env: { CREDENCE_HELLO_FLOOR_MS: '2.5' } }));
    expect(fromEnv).toEqual([expect.objectContaining({ path: 'env CREDENCE_HELLO_FLOOR_MS', message: expect.stringContaining('0 to 1000') })]);
  });
});
