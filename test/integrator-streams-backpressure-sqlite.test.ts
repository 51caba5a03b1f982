import { backpressureSuite } from './integrator-streams.backpressure-suite.ts';

backpressureSuite('sqlite');
