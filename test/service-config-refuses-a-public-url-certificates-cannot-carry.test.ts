import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createRootCa } from '../adapters/driven/pki/index.ts';
import { loadServiceConfig, serviceConfig } from '../adapters/http/config.ts';
import { startService } from '../adapters/http/start.ts';
import { openDataFolderSecureEnvironment, systemRandom } from '../adapters/runtime/index.ts';
import { register as serveCommands } from '../bin/commands/serve.ts';
import { runCommands } from '../bin/program.ts';
import { CredenceError, type FieldIssue } from '../domain/errors.ts';
import { ownerView } from '../domain/ports/index.ts';
import { startTestService } from './support/service.ts';
import { temporaryFolders } from './support/temp-dirs.ts';

/*
 * `publicUrl` is written, as given, into every certificate (cRLDistributionPoints, authorityInfoAccess) and CRL
 * (freshestCRL) for their whole lifetime: RFC 5280 4.2.1.13 / 4.2.2.1 want an RFC 3986 URI there, in an IA5String.
 * Found in review: `new URL(s).search === ''` let an empty `?` or `#` through (every CRL path became a query or a
 * fragment), a user name and password were published in every certificate, and a space or a non-ASCII letter went
 * into the IA5String raw. Each is refused at the configuration, from every source, naming the source and the rule,
 * and the message never repeats the password.
 */

const folder = temporaryFolders('credence-public-url-');
const PASSWORD = 's3cret';

/** Each refused publicUrl and the rule it breaks. */
const REFUSED: readonly (readonly [string, string])[] = [
  ['http://127.0.0.1:8080/?', 'no_query_or_fragment'],
  ['http://127.0.0.1:8080/#', 'no_query_or_fragment'],
  ['http://127.0.0.1:8080/?x=1', 'no_query_or_fragment'],
  [`http://operator:${PASSWORD}@127.0.0.1:8080`, 'no_userinfo'],
  [`http://operator:${PASSWORD}@127.0.0.1:8080/pki-base`, 'no_userinfo'],
  ['http://operator@127.0.0.1:8080', 'no_userinfo'],
  ['http://127.0.0.1:8080/a b', 'printable_ascii'],
  ['http://127.0.0.1:8080/a\tb', 'printable_ascii'],
  ['http://127.0.0.1:8080/a\nb', 'printable_ascii'],
  ['http://127.0.0.1:8080/a\u0000b', 'printable_ascii'],
  ['http://127.0.0.1:8080/é', 'printable_ascii'],
  ['http://bücher.example', 'printable_ascii'],
  ['http://127.0.0.1:8080/a^b', 'uri_characters'],
  ['http://127.0.0.1:8080/a\\b', 'uri_characters'],
  ['http://127.0.0.1:8080/a%zzb', 'uri_characters'],
  ['ftp://127.0.0.1/', 'http_url'],
  ['http:pki.example.org', 'http_url'],
  ['http://pki.example.org:99999', 'url'],
  ['http://pki.example.org:80', 'normalized_url'],
  ['http://PKI.example.org', 'normalized_url'],
  ['http://pki.example.org/a/../b', 'normalized_url'],
  ['http://127.1:8080', 'normalized_url'],
];

const issuesOf = (run: () => unknown): readonly FieldIssue[] => {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(CredenceError);
    const problem = (error as CredenceError).problem;
    if (problem.code !== 'validation') throw error;
    // Neither the issues nor the error's own message repeat the password.
    expect(JSON.stringify(problem)).not.toContain(PASSWORD);
    expect((error as CredenceError).message).not.toContain(PASSWORD);
    return problem.issues;
  }
  throw new Error('accepted');
};

describe('the service configuration refuses a publicUrl certificates cannot carry as written', () => {
  it('refuses each from a flag, the environment and the file, naming the source and the rule', () => {
    const dir = folder();
    for (const [publicUrl, rule] of REFUSED) {
      expect(issuesOf(() => loadServiceConfig({ flags: { publicUrl } })), publicUrl).toEqual([expect.objectContaining({ path: 'flag --public-url', rule })]);
      expect(issuesOf(() => loadServiceConfig({ env: { CREDENCE_PUBLIC_URL: publicUrl } })), publicUrl).toEqual([
        expect.objectContaining({ path: 'env CREDENCE_PUBLIC_URL', rule }),
      ]);
      const file = join(dir, 'credence.json');
      writeFileSync(file, JSON.stringify({ publicUrl }));
      expect(issuesOf(() => loadServiceConfig({ file })), publicUrl).toEqual([expect.objectContaining({ path: `file ${file}: publicUrl`, rule })]);
      expect(issuesOf(() => serviceConfig({ publicUrl })), publicUrl).toEqual([expect.objectContaining({ path: 'publicUrl', rule })]);
    }
  });

  it('says why a user name or password is refused without repeating either', () => {
    const [issue] = issuesOf(() => loadServiceConfig({ flags: { publicUrl: `https://operator:${PASSWORD}@pki.example.org` } }));
    expect(issue!.message).toMatch(/user name or password/);
    expect(issue!.message).not.toMatch(/operator|pki\.example\.org/);
  });

  it('names the ASCII form of an international host name', () => {
    const [issue] = issuesOf(() => loadServiceConfig({ flags: { publicUrl: 'https://bücher.example' } }));
    expect(issue!.message).toMatch(/punycode.*xn--bcher-kva\.example/);
  });

  it('keeps every URL that is one as written, a path prefix and a trailing slash included', () => {
    for (const publicUrl of ['https://pki.example.org', 'https://pki.example.org/', 'http://127.0.0.1:8080', 'https://pki.example.org:8443/credence/v1', 'http://[::1]:8080', 'https://pki.example.org/a%20b']) {
      expect(loadServiceConfig({ flags: { publicUrl } }).publicUrl).toBe(publicUrl);
    }
  });

  it('credence serve refuses it as bad usage before anything is opened: the data folder is not even made', async () => {
    const dir = join(folder(), 'data');
    const err: string[] = [];
    const code = await runCommands([serveCommands], ['serve', '--data', dir, '--port', '0', '--public-url', `http://operator:${PASSWORD}@127.0.0.1:8080/?`], {
      out: () => {},
      err: (line) => err.push(line),
      env: {},
    });
    expect(code).toBe(2);
    expect(err.join('\n')).toMatch(/flag --public-url/);
    expect(err.join('\n')).not.toContain(PASSWORD);
    expect(existsSync(dir)).toBe(false);
  });

  it('a start with one the configuration did not check is refused before anything is issued, and leaves the folder to the next start', async () => {
    const dir = folder();
    const se = openDataFolderSecureEnvironment(dir, { now: () => new Date() });
    try {
      await createRootCa({ dataDir: dir, se: ownerView(se, 'maf:infrastructure'), id: 'default', kind: 'p256', now: new Date(), random: systemRandom });
    } finally {
      se.close();
    }
    const config = { ...serviceConfig({ host: '127.0.0.1', port: 0, data: dir }), publicUrl: `http://operator:${PASSWORD}@127.0.0.1:8080/` };
    const refused = await startService(config).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(refused).toBeInstanceOf(CredenceError);
    const problem = (refused as CredenceError).problem;
    expect(problem.code === 'validation' && problem.issues).toEqual([expect.objectContaining({ path: 'publicUrl', rule: 'no_userinfo' })]);
    expect(JSON.stringify(problem)).not.toContain(PASSWORD);

    // Nothing was left holding the data folder, and nothing was recorded: it starts with a good URL, with no event.
    const svc = await startTestService({ dir, config: { publicUrl: 'https://pki.example.org/credence' } });
    try {
      expect(svc.service.context.pki?.baseUrl).toBe('https://pki.example.org/credence');
      const events = [];
      for await (const e of svc.service.context.credence.store.readAll()) events.push(e);
      expect(events).toEqual([]);
    } finally {
      await svc.close();
    }
  }, 60_000);
});
