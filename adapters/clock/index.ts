export { FakeClock, systemClock, SECOND, MINUTE, HOUR, DAY } from './clock.ts';
export type { Clock } from './clock.ts';
