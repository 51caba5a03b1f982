#!/usr/bin/env node
// Runs the TypeScript CLI through tsx's ESM loader, so no build step stands between a clone and `credence`.

// The process that ran this one, as it was at launch: `credence start` under npm stops once it is gone
// (bin/commands/demo/parent-watch.ts), also when it went during the start-up, before the watch was armed (review 261),
// and on Linux when it went before this line ran: what is read here is then the process that adopted this one (PID 1,
// a subreaper), which parent-watch.ts tells from npm's shell by its command line (review 445).
// Read before anything is loaded (tsx is imported below, not statically: a static import is evaluated first, and on a
// loaded machine a shell gone while tsx loaded was recorded as no parent at all, and start served on for good).
globalThis[Symbol.for('credence.launchParent')] = process.ppid;
const { register } = await import('tsx/esm/api');

/**
 * The environment variables a PKCS#11 PIN may be read from (docs/hsm.md "The PIN"): CREDENCE_PKCS11_PIN, and any
 * `pin-source=env:NAME` of a URI in CREDENCE_SECURE_ENVIRONMENT or on the command line (a --config file's is not read
 * here: use pin-source=file: there).
 */
const PIN_SOURCE_ENV = /pin-source=env:([A-Za-z_][A-Za-z0-9_]{0,127})/g;
/**
 * Each `pin-source=` value percent-decoded, as the URI parser reads it (uri.ts), escape by escape so that an invalid
 * one elsewhere hides nothing (review 324: `env%3AOPERATOR_PIN` logged in with OPERATOR_PIN, which a match on the text
 * as written missed). Decoding more than the parser would only withholds a variable more, which costs nothing.
 */
const decodedPinSources = (text) =>
  text.replace(/(pin-source=)([^&;?#\s]*)/g, (_, attribute, value) => attribute + value.replace(/%([0-9a-f]{2})/gi, (_, hex) => String.fromCharCode(parseInt(hex, 16))));
const pinVariables = (env, argv) => {
  const names = new Set(['CREDENCE_PKCS11_PIN']);
  for (const text of [env.CREDENCE_SECURE_ENVIRONMENT ?? '', ...argv]) {
    for (const form of [text, decodedPinSources(text)]) for (const match of form.matchAll(PIN_SOURCE_ENV)) names.add(match[1]);
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
