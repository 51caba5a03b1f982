import { clientOf, type ServerTarget } from '../options.ts';
import { printable } from '../../printable.ts';

/**
 * Where the fleet stands, in a few lines: GET /v1/replay (every entity through its machine) gives the count per
 * kind and state, and whether every stored transition is legal.
 */
export const fleetSummary = async (reader: ServerTarget): Promise<string[]> => {
  const verdict = await clientOf(reader).replay();
  const lines = [`The fleet (GET /v1/replay): ${verdict.events} events, ${verdict.ok ? 'every stored transition legal' : 'BROKEN histories: see credence replay'}`];
  for (const [kind, s] of Object.entries(verdict.kinds)) {
    if (s.entities === 0) continue;
    const states = Object.entries(s.states).map(([state, n]) => `${n} ${state}`).join(', ');
    lines.push(`  ${kind.padEnd(13)} ${String(s.entities).padStart(4)}: ${states}`);
  }
  // What the server answered (kinds, states), printed through printable only.
  return lines.map(printable);
};
