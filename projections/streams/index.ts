export { lifecycleEvents$ } from './lifecycle-events.ts';
export { publicEvents$ } from './public-events.ts';
export type { PublicFilterInput } from './public-events.ts';
export { LifecycleFilter, StreamStart, compileFilter, parseLifecycleFilter } from './filter.ts';
export type { CompiledFilter, LifecycleFilterInput } from './filter.ts';
export { pacedEvents } from './paced.ts';
export type { DeliveryOptions, LifecycleEvent, Step } from './paced.ts';
