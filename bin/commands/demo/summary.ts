import type { FleetReplayJson } from '../../../adapters/client/answers.ts';
import { clientOf, type ServerTarget } from '../options.ts';
import { printable } from '../../printable.ts';
import { brokenHistoryFindings, newerRulesNote } from '../replay.ts';

/**
 * The verdict in a few words: broken histories only where some finding is neither by a newer rule nor follows from one,
 * counted and worded as `credence replay` does (review 259: this summary called them all broken; review 323: one
 * count and one note for both).
 */
const verdictText = (verdict: FleetReplayJson): string => {
  if (verdict.ok) return 'every stored transition legal';
  const note = newerRulesNote(verdict);
  if (note === undefined) return 'BROKEN histories: see credence replay';
  return brokenHistoryFindings(verdict) > 0 ? `BROKEN histories: see credence replay (${note})` : `no broken history; ${note}`;
};

/**
 * Where the fleet stands, in a few lines: GET /v1/replay (every entity through its machine) gives the count per
 * kind and state, and whether every stored transition is legal.
 */
export const fleetSummary = async (reader: ServerTarget): Promise<string[]> => {
  const verdict = await clientOf(reader).replay();
  const lines = [`The fleet (GET /v1/replay): ${verdict.events} events, ${verdictText(verdict)}`];
  for (const [kind, s] of Object.entries(verdict.kinds)) {
    if (s.entities === 0) continue;
    const states = Object.entries(s.states).map(([state, n]) => `${n} ${state}`).join(', ');
    lines.push(`  ${kind.padEnd(13)} ${String(s.entities).padStart(4)}: ${states}`);
  }
  // What the server answered (kinds, states), printed through printable only.
  return lines.map(printable);
};
