/**
 * Found in review: `credence query --csv` printed every cell through `printableCsv`, wherever stdout went, so a script
 * reading it from a pipe or a file could not tell a real line break in a stored value from the literal text `\u000a`.
 * To a pipe or file (Io.stdoutIsTerminal false, set from process.stdout.isTTY) the CSV is now written as the server
 * sends it (RFC 4180); only a terminal gets control characters escaped, one record per line.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../bin/cli.ts';
import { capture } from './support/cli.ts';
import { startTestService, type TestService } from './support/service.ts';
import { recordAsAnEarlierVersion, subscriptionOfAnEarlierVersion } from './support/recorded-by-an-earlier-version.ts';

/** A real line break, then the literal text a terminal shows for one, then an escape sequence. */
const CORRELATION = 'line one\nline two \\u000a ok\u001b[2K';
const RAW_CONTROL = /[\u0000-\u0009\u000b\u000c\u000e-\u001f\u007f-\u009f]/;

describe('credence query --csv', () => {
  let svc: TestService;
  let fromServer: string;
  const query = ['query', 'actions', '--actor', 'test-operator', '--csv'];
  const cli = async (stdoutIsTerminal: boolean | undefined) => {
    const c = capture();
    const io = { ...c.io, env: {}, ...(stdoutIsTerminal !== undefined ? { stdoutIsTerminal } : {}) };
    const code = await main([...query, '--server', svc.url, '--token', svc.tokens.auditor], io);
    expect(code, c.err.join('\n')).toBe(0);
    // What stdout receives: each io.out line and its line end.
    return c.out.map((l) => `${l}\n`).join('');
  };

  beforeAll(async () => {
    svc = await startTestService();
    await recordAsAnEarlierVersion(svc.service.context.credence.store, subscriptionOfAnEarlierVersion('sub-1', CORRELATION));
    await svc.service.context.credence.settle();
    const response = await fetch(`${svc.url}/v1/compliance/actions?actor=test-operator`, { headers: { accept: 'text/csv', authorization: `Bearer ${svc.tokens.auditor}` } });
    expect(response.status).toBe(200);
    fromServer = await response.text();
  });
  afterAll(async () => {
    await svc?.close();
  });

  it('to a pipe or a file writes the CSV exactly as the server sent it (RFC 4180): a stored line break stays one', async () => {
    const piped = await cli(false);
    expect(piped).toBe(fromServer);
    expect(piped).toContain(`"${CORRELATION.replaceAll('"', '""')}"`);
    // The real line break and the literal text remain two different things.
    expect(piped).toContain('line one\nline two \\u000a ok');
  });

  it('on a terminal (or where the Io does not say) shows every control character escaped, one record per line', async () => {
    for (const terminal of [true, undefined]) {
      const shown = await cli(terminal);
      const records = shown.replace(/\n$/, '').split('\r\n');
      expect(records).toHaveLength(2);
      expect(records[0]).toMatch(/^position,/);
      for (const record of records) expect(record, JSON.stringify(record)).not.toMatch(RAW_CONTROL);
      expect(records[1]).not.toContain('\n');
      expect(records[1]).toContain('line one\\u000aline two \\u000a ok\\u001b[2K');
    }
  });
});
