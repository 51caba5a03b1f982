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
  // Always a production build, whatever NODE_ENV says: Vite takes a package's `development` export unless NODE_ENV is
  // `production`, and a bundle built under vitest (NODE_ENV=test) was Lit's development build, which logged "Lit is
  // in dev mode" in every browser of the service it was served by (review 192). The freshness check judges by dates.
  mode: 'production',
  resolve: { conditions: ['module', 'browser', 'production'] },
  define: { 'process.env.NODE_ENV': JSON.stringify('production') },
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
