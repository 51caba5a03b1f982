export { lapseCauseOf, lateLapse, revocationInstant } from './revocation-instant.ts';
