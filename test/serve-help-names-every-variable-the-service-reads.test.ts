/**
 * Review 236: `credence serve --help` named the variables of its flags only, so CREDENCE_DURABILITY,
 * CREDENCE_ENTITY_CACHE_MIB, CREDENCE_HELLO_FLOOR_MS and CREDENCE_KEK_FILE were to be found in docs/service.md alone.
 * Held to the configuration's own lists: a variable added to them without a word in the help fails here.
 */
import { describe, expect, it } from 'vitest';
import { CONFIG_ENV, LIMITS_ENV } from '../adapters/http/config.ts';
import { runCli } from './support/cli.ts';

describe('serve --help', () => {
  it('names every variable the service reads, those without a flag included', async () => {
    const run = await runCli(['serve', '--help']);
    expect(run.code).toBe(0);
    const out = run.out.replace(/\s+/g, ' ');
    const variables = [...Object.keys(CONFIG_ENV), ...Object.keys(LIMITS_ENV), 'CREDENCE_KEK_FILE', 'CREDENCE_PKCS11_PIN'].filter((name) => name !== 'PORT');
    const unnamed = variables.filter((name) => !new RegExp(`\\b${name}\\b`).test(out));
    expect(unnamed).toEqual([]);
    expect(out).toContain('env PORT or CREDENCE_PORT');
  });
});
