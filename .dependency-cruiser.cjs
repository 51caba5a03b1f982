// Dependency rules of the layered design, enforced by `npm run depcheck` (part of `npm test`).
//
//   domain/        pure core: ids, events, commands, errors, ports (interfaces), crypto, x509, signing, transparency
//   machines/      XState machines over the domain
//   projections/   read side over machines and domain
//   adapters/      driven/** concrete adapters (driven/files/: file utilities they share), engine/ command
//                  handling, protocols/** endpoints,
//                  runtime/ composition root and public entry (adapters/runtime/index.ts),
//                  http/ the driving HTTP adapter (`credence serve`), client/ our client of that API
//   bin/ bench/ test/   outer edges, allowed to reach everything
//
// Paths in the rules are relative to the repository root and are regular expressions.
// Type-only imports count (tsPreCompilationDeps: true): `import type` is still a dependency of the design.

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment:
        'Import cycles make module initialisation order fragile (TDZ errors on ESM live bindings), ' +
        'hide which layer depends on which, and make a module impossible to use or test on its own. ' +
        'Break the cycle by moving the shared piece down (usually into domain/) or inverting it through a port in domain/ports/.',
      from: { path: '^(domain|machines|projections|adapters|bin)/' },
      to: { circular: true },
    },
    {
      name: 'domain-imports-only-domain',
      severity: 'error',
      comment:
        'domain/ is the pure core: it may import only domain/ and npm packages (zod, @noble/*, @peculiar/x509, ...). ' +
        'An import from machines/, projections/, adapters/, bin/ ... makes the core depend on an outer layer. ' +
        'Move the needed code into domain/, or declare a port in domain/ports/ and implement it in adapters/.',
      from: { path: '^domain/' },
      to: { pathNot: '^(domain/|node_modules/)', dependencyTypesNot: ['core'] },
    },
    {
      name: 'domain-no-node-builtins',
      severity: 'error',
      comment:
        'domain/ is the pure core: no node: builtins (node:fs, node:net, node:child_process, node:crypto randomness ...). ' +
        'I/O, randomness and clocks reach the domain through ports in domain/ports/, implemented in adapters/driven/. ' +
        'Builtins are neither domain/ nor npm packages, so this is the rule "domain imports only domain and npm" for them.',
      from: { path: '^domain/' },
      to: { dependencyTypes: ['core'] },
    },
    {
      name: 'core-imports-only-pure-packages',
      severity: 'error',
      comment:
        'domain/ and machines/ are pure: of npm packages they may use only those that compute (zod, xstate, @noble/*, ' +
        '@peculiar/x509 with reflect-metadata). A store client, SQLite or an HTTP library belongs in adapters/. ' +
        'pkijs and asn1js (domain/x509/ only in practice): pure ASN.1 parsing and the RFC 5280 path-validation engine ' +
        '(name constraints, certificate policies) for IDevID chains; no I/O, WebCrypto only through the global crypto.',
      from: { path: '^(domain|machines)/' },
      to: {
        path: '^node_modules/',
        pathNot: '^node_modules/(zod|xstate|@noble/(curves|hashes|ciphers)|@peculiar/x509|reflect-metadata|pkijs|asn1js)/',
      },
    },
    {
      name: 'machines-import-only-machines-and-domain',
      severity: 'error',
      comment:
        'machines/ (XState machines) sits right above the domain: it may import machines/, domain/ and npm packages, ' +
        'never projections/, adapters/, bin/ ... so machines stay pure and replayable.',
      from: { path: '^machines/' },
      to: { pathNot: '^(machines/|domain/|node_modules/)', dependencyTypesNot: ['core'] },
    },
    {
      name: 'projections-import-only-projections-machines-domain',
      severity: 'error',
      comment:
        'projections/ (read side) may import projections/, machines/, domain/ and npm packages, never adapters/: ' +
        'stores and read-model databases reach it through ports in domain/ports/, wired in adapters/runtime/.',
      from: { path: '^projections/' },
      to: { pathNot: '^(projections/|machines/|domain/|node_modules/)', dependencyTypesNot: ['core'] },
    },
    {
      name: 'driven-adapter-not-from-another-driven-adapter',
      severity: 'error',
      comment:
        'A concrete adapter under adapters/driven/<name>/ is private to its own folder: one driven adapter must not ' +
        'import another (e.g. driven/transparency -> driven/store). Depend on the port in domain/ports/ instead and let ' +
        'adapters/runtime/ (the composition root) pass the concrete instance in. ' +
        'One exception: adapters/driven/files/ is not an adapter but a shared file-system utility (atomic writes of ' +
        'single-file state: keys, key handles, KEKs), usable by every driven adapter; it is itself held to this rule.',
      from: { path: '^adapters/driven/([^/]+)/' },
      to: { path: '^adapters/driven/', pathNot: '^adapters/driven/($1|files)/' },
    },
    {
      name: 'driven-adapter-only-from-composition-root',
      severity: 'error',
      comment:
        'Concrete adapters (adapters/driven/**) are wired only by the composition root adapters/runtime/ and by the ' +
        'outer edges bin/, bench/, test/. adapters/engine/, adapters/protocols/, adapters/http/, adapters/client/, ' +
        'projections/, machines/ and domain/ must depend on the ports in domain/ports/ (or on what adapters/runtime/ ' +
        'exports), not on a concrete store, secure environment, clock ...',
      from: { pathNot: '^(adapters/driven/[^/]+/|adapters/runtime/|bin/|bench/|test/)' },
      to: { path: '^adapters/driven/' },
    },
    {
      name: 'runtime-only-from-outer-edges',
      severity: 'error',
      comment:
        'adapters/runtime/ is the composition root and the public entry of the package; only the outer edges ' +
        '(bin/, bench/, test/) and the driving adapters built on a whole instance (adapters/http/, the service; ' +
        'adapters/client/, its client) may import it. Anything else importing it depends on the whole wiring and ' +
        'usually closes a cycle. Import the port or module you need directly. The driving adapters still reach ' +
        'concrete driven adapters only through what adapters/runtime/index.ts exports.',
      from: { pathNot: '^(adapters/runtime/|adapters/http/|adapters/client/|bin/|bench/|test/)' },
      to: { path: '^adapters/runtime/' },
    },
    {
      name: 'driving-adapters-only-from-outer-edges',
      severity: 'error',
      comment:
        'adapters/http/ (the service) and adapters/client/ (its client) drive the core from outside: only the outer ' +
        'edges (bin/, bench/, test/) and each other may import them. The engine, the protocols, the projections or the ' +
        'composition root importing them would make the core depend on its transport.',
      from: { pathNot: '^(adapters/http/|adapters/client/|bin/|bench/|test/)' },
      to: { path: '^adapters/(http|client)/' },
    },
    {
      name: 'console-imports-only-domain',
      severity: 'error',
      comment:
        'adapters/console/src/ is the web console that runs in the browser (issue 14): it may import its own files, ' +
        'domain/ (types, stream ids, the evidence verifier: the same code as credence verify) and the packages that ' +
        'run in a browser (lit, zod, @noble/*), never node: builtins, machines/, projections/ or another adapter. It ' +
        'talks to the server through API v1 only.',
      from: { path: '^adapters/console/src/' },
      to: {
        pathNot: '^(adapters/console/src/|domain/|node_modules/(lit|lit-html|lit-element|@lit|@lit-labs|zod|@noble/(curves|hashes))/)',
      },
    },
  ],
  options: {
    // Record npm packages but do not cruise into them.
    doNotFollow: { path: ['node_modules'] },
    // Resolve imports the way tsc does, including explicit `.ts` extensions (allowImportingTsExtensions).
    tsConfig: { fileName: 'tsconfig.json' },
    // Keep type-only imports (`import type`, `export type ... from`): they are dependencies of the design too.
    tsPreCompilationDeps: true,
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      mainFields: ['module', 'main', 'types', 'typings'],
      extensions: ['.ts', '.mts', '.cts', '.d.ts', '.js', '.mjs', '.cjs', '.json'],
    },
    reporterOptions: {
      text: { highlightFocused: true },
    },
  },
};
