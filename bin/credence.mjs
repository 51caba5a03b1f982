#!/usr/bin/env node
// Runs the TypeScript CLI through tsx's ESM loader, so no build step stands between a clone and `credence`.
import { register } from 'tsx/esm/api';

// The process that ran this one, as it was at launch: `credence start` under npm stops once it is gone
// (bin/commands/demo/parent-watch.ts), also when it went during the start-up, before the watch was armed (review 261).
globalThis[Symbol.for('credence.launchParent')] = process.ppid;

/**
 * The environment variables a PKCS#11 PIN may be read from (docs/hsm.md "The PIN"): CREDENCE_PKCS11_PIN, and any
 * `pin-source=env:NAME` of a URI in CREDENCE_SECURE_ENVIRONMENT or on the command line (a --config file's is not read
 * here: use pin-source=file: there).
 */
const pinVariables = (env, argv) => {
  const names = new Set(['CREDENCE_PKCS11_PIN']);
  for (const text of [env.CREDENCE_SECURE_ENVIRONMENT ?? '', ...argv]) {
    for (const match of text.matchAll(/pin-source=env:([A-Za-z_][A-Za-z0-9_]{0,127})/g)) names.add(match[1]);
  }
  return [...names].filter((name) => env[name] !== undefined);
};

// Review 209: tsx's loader thread takes its copy of process.env when register() starts it, and the esbuild child it
// spawns (living as long as the CLI) inherits that copy: its /proc/<pid>/environ held the PIN. The PIN variables are
// out of process.env while it starts, and put back for this thread alone, where the Secure Environment reads the PIN
// once and deletes it (pin-source.ts), so that no child process ever inherits it.
const withheld = Object.fromEntries(pinVariables(process.env, process.argv.slice(2)).map((name) => [name, process.env[name]]));
for (const name of Object.keys(withheld)) delete process.env[name];
register();
Object.assign(process.env, withheld);
const { runProcess } = await import('./cli.ts');
await runProcess();
