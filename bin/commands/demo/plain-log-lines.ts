import { Writable } from 'node:stream';
import type { Io } from '../../io.ts';
import { printable } from '../../printable.ts';

/** pino's numeric levels, as the words the CLI's own lines start with. */
const prefixOf = (level: unknown): string => (typeof level !== 'number' || level < 40 ? '' : level < 50 ? 'warning: ' : 'error: ');

/** One of the service's JSON log lines as a person reads it: its message, `warning: ` or `error: ` first. */
const plainLine = (line: string): string => {
  try {
    const parsed = JSON.parse(line) as { level?: unknown; msg?: unknown };
    if (typeof parsed.msg === 'string') return `${prefixOf(parsed.level)}${parsed.msg}`;
  } catch {
    // Not a JSON line: said as it came.
  }
  return line;
};

/**
 * Where the service's logger writes for `credence demo` when no log level was asked for: each line as plain text on
 * the command's stderr (review 136: a warning the start says, that the certificates name another port than this run's,
 * came out as a raw JSON log line among the demo's own). Asked for with --log-level, the JSON lines stay as they are.
 * Through printable: a message may carry a file or host name the operator gave.
 */
export const plainLogLines = (io: Io): Writable => {
  let partial = '';
  return new Writable({
    write(chunk: Buffer | string, _encoding, done) {
      const lines = (partial + chunk.toString()).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) if (line.trim() !== '') io.err(printable(plainLine(line)));
      done();
    },
    final(done) {
      if (partial.trim() !== '') io.err(printable(plainLine(partial)));
      partial = '';
      done();
    },
  });
};
