// A worker thread starts without the parent's TypeScript loader hooks on Node 20: register tsx's, then load the
// worker's TypeScript module. Plain JavaScript so that Node can start it as it is.
import { register } from 'tsx/esm/api';

register();
await import('./replay-worker.ts');
