/**
 * Review 173 (C): `credential issue … --owner meter-9` (no kind) said "--owner: Invalid input: expected object, received
 * string": the schema's view of a value the CLI had passed on unparsed. An owner without `kind:` (or of a kind there is
 * none of) is now refused before anything is sent, naming the rule and the forms an owner takes.
 */
import { describe, expect, it } from 'vitest';
import { runCli } from './support/cli.ts';

const issue = (owner: string) =>
  runCli(['credential', 'issue', 'c1', '--kind', 'ed25519', '--purpose', 'service', '--owner', owner, '--fingerprint', `sha256:${'0'.repeat(64)}`, '--not-after', '2030-01-01T00:00:00Z']);

describe('credential issue --owner', () => {
  it.each(['meter-9', ':meter-9', 'meter:9'])('refuses %s, naming the forms an owner takes (exit 2)', async (owner) => {
    const r = await issue(owner);
    expect(r.code, r.err).toBe(2);
    expect(r.err).toMatch(/^error: --owner: an owner is kind:ID, one of node:ID, app:ID, cse:CSE-ID@node:ID .* or ae:AE-ID@app:ID/m);
    expect(r.err).not.toMatch(/expected object/);
  });

  it('still takes node:ID to the next check (no server given: --token)', async () => {
    const r = await issue('node:meter-9');
    expect(r.err).not.toMatch(/--owner/);
  });
});
