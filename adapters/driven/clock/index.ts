export { FakeClock, systemClock, SECOND, MINUTE, HOUR, DAY } from './clock.ts';
export type { Clock } from '../../../domain/ports/clock.ts';
