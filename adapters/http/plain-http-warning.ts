/** Whether the bound `address` is this machine's loopback, where no network carries the service's bytes. */
const isLoopbackAddress = (address: string): boolean => /^(?:::ffff:)?127(?:\.\d{1,3}){3}$/i.test(address) || address === '::1';

/**
 * Review 373 #2: bound beyond loopback, the service speaks plain HTTP to whoever reaches it, bearer tokens included (the
 * CLI warns of an http:// server of another host: review 301). Said, not refused: a closed network is the operator's
 * choice. With an https:// public URL a proxy is in front, and the hop from it to the service is what carries them in
 * clear. Undefined on loopback.
 */
export const plainHttpWarning = (boundUrl: string, address: string, publicUrl: string | undefined): string | undefined => {
  if (isLoopbackAddress(address)) return undefined;
  const advice = 'docs/service.md, "Starting the service"';
  if (publicUrl?.startsWith('https:') === true) {
    return (
      `listening on ${boundUrl}, beyond loopback, in plain HTTP, reached at ${publicUrl}: the proxy in front must terminate TLS, ` +
      `and the hop from it to ${boundUrl} must be a private network, since bearer tokens cross it in clear (${advice}); ` +
      'with the proxy on this machine, listen on loopback (--host 127.0.0.1)'
    );
  }
  return (
    `listening on ${boundUrl}, beyond loopback, in plain HTTP: bearer tokens and every request cross the network ` +
    `unencrypted; put a TLS-terminating proxy in front of the service and reach it through https:// (${advice}), or ` +
    'listen on loopback (--host 127.0.0.1)'
  );
};
