import type { Io } from '../../bin/io.ts';

/** An Io that keeps what a CLI command prints, for assertions on its output. */
export const capture = (): { io: Io; out: string[]; err: string[] } => {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { out: (line) => out.push(line), err: (line) => err.push(line) }, out, err };
};
