import { z } from 'zod';
import type { CredenceError } from '../errors.ts';
import { parseMessage, protocolFailure } from './protocol.ts';

/**
 * The version of the association handshake every message of a run carries. Version 2 moved the granted lifetime
 * from the challenge, which answers an unauthenticated hello, to the confirm, which follows the Registree's verified
 * proof and is covered by the Registrar's key confirmation: a version 1 challenge told anyone holding a Registree id
 * and a public credential fingerprint when that credential ends, to the second (seeds 002/004 unobservability;
 * SER-001). The hello's version is in the transcript every proof covers, so a run cannot be moved to another version.
 */
export const ASSOCIATION_VERSION = 2 as const;

/** The `version` field of every association message; the message of another version names it. */
export const AssociationVersion = z.literal(ASSOCIATION_VERSION, {
  error: (issue) =>
    typeof issue.input === 'number' && Number.isSafeInteger(issue.input)
      ? `version ${issue.input} of the association handshake is not spoken here; this end speaks version ${ASSOCIATION_VERSION}`
      : undefined,
});

/**
 * The refusal of an association message of another version (`unsupported_version`, naming it), or undefined when
 * `input` is not one: a version 1 Registree is told why its run cannot go on, rather than `malformed` for the fields
 * that moved. Reads the two fields only, whatever else `input` holds (anything a getter throws is not a version).
 */
export const foreignVersionRefusal = (input: unknown, step: string): CredenceError | undefined => {
  let type: unknown;
  let version: unknown;
  try {
    if (typeof input !== 'object' || input === null) return undefined;
    ({ type, version } = input as { type?: unknown; version?: unknown });
  } catch {
    return undefined;
  }
  if (typeof type !== 'string' || !type.startsWith('association.')) return undefined;
  if (typeof version !== 'number' || !Number.isSafeInteger(version) || version === ASSOCIATION_VERSION) return undefined;
  return protocolFailure(step, 'unsupported_version', `association handshake version ${version}; this end speaks version ${ASSOCIATION_VERSION} only`);
};

/** `parseMessage` for an association message: one of another version is refused `unsupported_version` first. */
export const parseAssociationMessage = <S extends z.ZodType>(schema: S, input: unknown, step: string): z.output<S> => {
  const refused = foreignVersionRefusal(input, step);
  if (refused !== undefined) throw refused;
  return parseMessage(schema, input, step);
};
