/**
 * Review 295 item 3: `CREDENCE_ULR=… credence node register …` said "--server: required (or set CREDENCE_URL)" without
 * naming the variable set by mistake, which local reads (`history`) do name ("did you mean CREDENCE_URL?",
 * unknown-variables.ts). A command that needs a server or a token and finds none names each `CREDENCE_*` variable set
 * that nothing reads and is a slip of the one it needed, never its value.
 */
import { describe, expect, it } from 'vitest';
import { runCli } from './support/cli.ts';

const REGISTER = ['node', 'register', 'meter-22', '--class', 'c', '--manufacturer', 'm', '--model', 'x'];

describe('a misspelt server variable', () => {
  it('CREDENCE_ULR with no server: named, with the variable meant', async () => {
    const { code, err } = await runCli([...REGISTER, '--token', 'eyJ.a.b'], { CREDENCE_ULR: 'http://127.0.0.1:9' });
    expect(err).toContain('error: --server: required (or set CREDENCE_URL)');
    expect(err).toContain('env CREDENCE_ULR: unknown setting, no part of Credence reads it: did you mean CREDENCE_URL?');
    expect(err).not.toContain('127.0.0.1:9');
    expect(code).toBe(2);
  });

  it('CREDENCE_TOKNE with no token: named, with the variable meant, never its value', async () => {
    const { code, err } = await runCli([...REGISTER, '--server', 'http://127.0.0.1:9'], { CREDENCE_TOKNE: 'eyJ.secret-value.sig' });
    expect(err).toContain('env CREDENCE_TOKNE: unknown setting, no part of Credence reads it: did you mean CREDENCE_TOKEN?');
    expect(err).not.toContain('secret-value');
    expect(code).toBe(2);
  });

  it('a server and token given: the variable is no reason to refuse', async () => {
    const { err } = await runCli([...REGISTER, '--server', 'http://127.0.0.1:9', '--token', 'eyJ.a.b'], { CREDENCE_ULR: 'http://127.0.0.1:9' });
    expect(err).not.toContain('CREDENCE_ULR');
  });
});
