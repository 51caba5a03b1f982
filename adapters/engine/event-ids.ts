import { hash } from 'node:crypto';
import { eventIdsWith } from '../../domain/event-ids.ts';

/**
 * The domain's event and command ids (domain/event-ids.ts) over Node's native one-shot SHA-256 to hex (Node >= 20.12):
 * on the command path the pure-JavaScript digest cost some 7 µs per event, this under 1 µs.
 * test/engine-event-ids.test.ts holds the two to the same ids.
 */
export const nativeEventIds = eventIdsWith((text) => hash('sha256', text, 'hex'));
export const fastEventIdFor = nativeEventIds.eventIdFor;
