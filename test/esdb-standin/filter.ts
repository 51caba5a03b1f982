/**
 * TEST-ONLY: EventStoreDB's server-side filter for $all reads and subscriptions, as the stand-in applies it: one
 * expression (prefixes or a regular expression) on the stream name or on the event type, a search window, and a
 * checkpoint every `multiplier x window` events considered. The server evaluates the regular expression with .NET;
 * the patterns a client sends (anchored alternations of escaped literals) mean the same in JavaScript.
 */
import type { LoggedEvent } from './memory-log.ts';

interface Expression {
  getPrefixList(): string[];
  getRegex(): string;
}

/** The shape shared by the Streams and the PersistentSubscriptions filter messages. */
interface FilterOptions {
  hasStreamIdentifier(): boolean;
  getStreamIdentifier(): Expression | undefined;
  getEventType(): Expression | undefined;
  hasMax(): boolean;
  getMax(): number;
  getCheckpointintervalmultiplier(): number;
}

export interface ServerFilter {
  readonly matches: (event: LoggedEvent) => boolean;
  /** Events considered (matching or not) between two checkpoints. */
  readonly checkpointEvery: number;
}

// EventStoreDB's default search window when the client asks for `count` instead of `max`.
const DEFAULT_WINDOW = 32;

export function compileServerFilter(options: FilterOptions | undefined): ServerFilter | undefined {
  if (options === undefined) return undefined;
  const onStream = options.hasStreamIdentifier();
  const expression = onStream ? options.getStreamIdentifier() : options.getEventType();
  if (expression === undefined) throw new Error('filter has no expression');
  const prefixes = expression.getPrefixList();
  const regex = expression.getRegex();
  const test: (value: string) => boolean =
    prefixes.length > 0
      ? (value) => prefixes.some((prefix) => value.startsWith(prefix))
      : ((pattern) => (value: string) => pattern.test(value))(new RegExp(regex, 'u'));
  const window = options.hasMax() ? options.getMax() : DEFAULT_WINDOW;
  const multiplier = Math.max(1, options.getCheckpointintervalmultiplier());
  return {
    matches: (event) => test(onStream ? event.streamId : event.type),
    checkpointEvery: window * multiplier,
  };
}
