/**
 * Review 173 (F): `credence demo` ended with "Next: npx credence replay --data D, history node-meter-3 --data D, …",
 * one line whose later commands lacked `npx credence`: nothing in it could be pasted as it was. Each next step is now
 * a whole command on a line of its own, with the data folder it ran on, quoted for the shell where it needs to be.
 */
import { describe, expect, it } from 'vitest';
import { nextSteps } from '../bin/commands/demo.ts';

describe("the demo's next steps", () => {
  it('are whole commands, one a line, naming the folder quoted for the shell', () => {
    const lines = nextSteps('/tmp/my demo', ' --port 40123');
    const commands = lines.filter((l) => l.startsWith('  ')).map((l) => l.trim());
    expect(commands).toEqual([
      "npx credence replay --data '/tmp/my demo'",
      "npx credence history node-meter-3 --data '/tmp/my demo'",
      "npx credence verify --data '/tmp/my demo'",
      "npm start -- --data '/tmp/my demo' --port 40123",
    ]);
  });
});
