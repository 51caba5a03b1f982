export { lifecycleEvents$ } from './lifecycle-events.ts';
export { publicEvents$ } from './public-events.ts';
export type { PublicFilterInput } from './public-events.ts';
export { LifecycleFilter, StreamStart, parseLifecycleFilter, parsePublicFilter } from './filter.ts';
export type { LifecycleFilterInput } from './filter.ts';
export type { DeliveryOptions, LifecycleEvent } from './paced.ts';
export type { PassedOver } from './lifecycle-fact.ts';
export { NewerEventError } from './newer-event.ts';
