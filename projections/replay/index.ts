export { replayEntity } from './entity.ts';
export type { EntityReplay, ReplayStep, Finding } from './entity.ts';
export { replayAll } from './all.ts';
export type { FleetReplay, KindSummary } from './all.ts';
