#!/usr/bin/env node
// Runs the TypeScript CLI through tsx's ESM loader, so no build step stands between a clone and `credence`.
import { register } from 'tsx/esm/api';

register();
const { runProcess } = await import('./cli.ts');
await runProcess();
