import { describe, expect, it } from 'vitest';
import { serviceConfig } from '../adapters/http/config.ts';
import { servedAgainAt, startCommandServing } from '../bin/commands/demo/served-again-at.ts';

/*
 * Review 109: the closing line of `credence start` (and the demo's next step) dropped `--host`: a container's
 * `--host 0.0.0.0 --public-url …` was told to start again on 127.0.0.1 only, and a start on a LAN address was told a
 * bare `npm start`, which serves 127.0.0.1:8080 while the certificates name the LAN address for their CRL and OCSP.
 */

const again = (config: Parameters<typeof serviceConfig>[0], listening: string, certificatesUrl?: string) =>
  startCommandServing('/srv/credence data', servedAgainAt(serviceConfig(config), listening, certificatesUrl));

describe('the start that serves a demo folder again', () => {
  it('keeps a wildcard host with the public URL a container is reached at', () => {
    expect(again({ host: '0.0.0.0', publicUrl: 'https://credence.example.com' }, 'http://0.0.0.0:8080')).toBe(
      "npm start -- --data '/srv/credence data' --host 0.0.0.0 --port 8080 --public-url https://credence.example.com",
    );
  });

  it('keeps a LAN address and the port it listened on', () => {
    expect(again({ host: '192.168.1.5' }, 'http://192.168.1.5:8080')).toBe("npm start -- --data '/srv/credence data' --host 192.168.1.5 --port 8080");
  });

  it('serves the URL earlier certificates name, with this start listening host, when that URL is no default one', () => {
    expect(again({ host: '0.0.0.0' }, 'http://0.0.0.0:9000', 'https://pki.example.com')).toBe(
      "npm start -- --data '/srv/credence data' --host 0.0.0.0 --port 9000 --public-url https://pki.example.com",
    );
    // A loopback URL the certificates name is served by its own host and port.
    expect(again({}, 'http://127.0.0.1:39815', 'http://127.0.0.1:44327')).toBe("npm start -- --data '/srv/credence data' --port 44327");
  });
});
