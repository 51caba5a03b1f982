/**
 * TEST-ONLY: EventStoreDB's server-side filter for $all reads and subscriptions, as the stand-in applies it: one
 * expression (prefixes or a regular expression) on the stream name or on the event type, a search window, and a
 * checkpoint every `multiplier x window` events considered. The server evaluates the regular expression with .NET
 * (Regex.IsMatch, no options), and the patterns a client sends (anchored alternations of escaped literals) do NOT
 * mean the same in JavaScript: .NET's `$` also matches before a final "\n", so `^(?:A)$` passes a type "A\n" on a
 * real server (review 421). The stand-in reads `$` as .NET does (asDotNet).
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
      : ((pattern) => (value: string) => pattern.test(value))(new RegExp(asDotNet(regex), 'u'));
  const window = options.hasMax() ? options.getMax() : DEFAULT_WINDOW;
  const multiplier = Math.max(1, options.getCheckpointintervalmultiplier());
  return {
    matches: (event) => test(onStream ? event.streamId : event.type),
    checkpointEvery: window * multiplier,
  };
}

/**
 * A .NET pattern as JavaScript reads it, for what the stand-in is sent: `$` outside a character class matches at the
 * end or before one final "\n" (.NET without RegexOptions.Multiline), where JavaScript's matches at the end only.
 * Escapes (`\$`) and classes (`[^$]`) are kept as they are.
 */
export function asDotNet(pattern: string): string {
  let out = '';
  let inClass = false;
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '\\') {
      out += pattern.slice(i, i + 2);
      i++;
    } else if (inClass) {
      if (c === ']') inClass = false;
      out += c;
    } else if (c === '[') {
      inClass = true;
      out += c;
    } else out += c === '$' ? '(?=\\n?$)' : c;
  }
  return out;
}
