import { protocolFailure } from './protocol.ts';

/**
 * Seed 003 clause 11.3.2: "The lifetime of a security association shall be shorter than the lifetime of the
 * credential used for authentication from which it is derived". The granted lifetime is the requested one cut to
 * the credential's remaining lifetime minus a safety margin, in whole seconds, and always strictly shorter than
 * what remains; when not even one second fits, the association cannot be established.
 */
export interface LifetimeRequest {
  readonly requestedSeconds: number;
  readonly credentialNotAfter: string;
  readonly now: Date;
  readonly marginSeconds: number;
  /** The protocol step reported when no lifetime fits. */
  readonly step: string;
}

export interface GrantedLifetime {
  readonly lifetimeSeconds: number;
  readonly expiresAt: string;
}

export const associationLifetime = (request: LifetimeRequest): GrantedLifetime => {
  const { requestedSeconds, marginSeconds, now } = request;
  if (!(Number.isInteger(requestedSeconds) && requestedSeconds > 0)) throw new RangeError('requestedSeconds must be a positive integer');
  if (!(Number.isFinite(marginSeconds) && marginSeconds >= 0)) throw new RangeError('marginSeconds must be >= 0');
  const remainingMs = Date.parse(request.credentialNotAfter) - now.getTime();
  // The largest whole number of seconds strictly below (remaining - margin).
  const longest = Math.ceil((remainingMs - marginSeconds * 1000) / 1000) - 1;
  const lifetimeSeconds = Math.min(requestedSeconds, longest);
  const expiresAtMs = now.getTime() + lifetimeSeconds * 1000;
  if (lifetimeSeconds < 1 || !(expiresAtMs < Date.parse(request.credentialNotAfter))) {
    // Not the credential's notAfter: a refusal's message may be answered, and when a credential ends is its own.
    throw protocolFailure(request.step, 'lifetime_exhausted', `the credential's remaining validity leaves no association lifetime after a ${marginSeconds}s margin`);
  }
  return { lifetimeSeconds, expiresAt: new Date(expiresAtMs).toISOString() };
};
