import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

/**
 * The web console's bundle (issue 14): `vite build --config adapters/console/vite.config.ts` (npm's `prepare`, or
 * `npm run console:build`) writes static files to adapters/console/dist/, which `credence serve` serves at `/`.
 * Nothing is inlined and nothing is fetched from elsewhere at run time, so the strict CSP of
 * adapters/http/routes/console.ts holds: scripts and styles from the server only.
 */
const root = fileURLToPath(new URL('.', import.meta.url));

export default defineConfig({
  root,
  base: '/',
  publicDir: false,
  logLevel: 'warn',
  clearScreen: false,
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    // No data: URIs or inline scripts in the output: everything is a file under /assets/.
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    sourcemap: false,
    reportCompressedSize: false,
  },
});
