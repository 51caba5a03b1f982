import { validationError } from '../../../domain/errors.ts';
import { unknownOutcomeInKind } from './outcome-unknown.ts';
import { DEVICE_PATHS, type DeviceTransport } from '../../../adapters/client/device/index.ts';
import { shellWord } from '../../shell-word.ts';

/*
 * What `device associate` says once its finish was sent and no refusal came back (review 183): the Registrar may hold
 * the association live while the device destroyed the keys it made.
 */

/**
 * How to end an association the Registrar may hold live while the device keeps no session keys for it; the id one
 * shell word, so the command as pasted runs nothing the id holds (review 365).
 */
export const revokeIt = (associationId: string): string =>
  `revoke it (credence association revoke ${shellWord(associationId)} --reason cessationOfOperation) and run device associate again under a new --association-id`;

/** Said of an association that takes no handshake: nothing when the device holds its keys, else to revoke it. */
export const revokeIfNoKeys = (associationId: string, keysHeld: boolean): string =>
  keysHeld
    ? ''
    : `this device keeps no session keys for it, so if the Registrar holds it live (a run whose finish's answer was lost, say), ` +
      `revoke it (credence association revoke ${shellWord(associationId)} --reason cessationOfOperation); `;

/**
 * The finish was sent and no answer saying the Registrar refused it came back (a connection lost, a timeout, a 5xx, a
 * gateway's page, a confirm that fails the device's check): the Registrar may have recorded the association, and the
 * run destroyed the keys it made. Said as `device provision` says its receipt's unknown outcome, keeping the error's
 * kind: a server not reached stays exit 3, a problem keeps its document with the hint as an extension member (review
 * 183: `cannot reach …: other side closed` alone, and a rerun told only to use a new association id).
 */
export const finishOutcomeUnknown = (error: unknown, associationId: string): unknown => {
  const unknown = `whether the Registrar recorded association ${associationId} is not known`;
  const lacking = `the Registrar may have recorded it, and this device keeps no session keys for it: ${revokeIt(associationId)}`;
  return unknownOutcomeInKind(error, {
    notAnswered: (causeMessage) => `${unknown} (${causeMessage}): ${lacking}`,
    problemHint: () => `${unknown}: ${lacking}`,
    notWhole: `${unknown}: ${lacking}`,
    otherwise: (other) => {
      const cause = other instanceof Error ? other.message : 'no answer';
      return validationError([{ path: 'associationId', rule: 'association-outcome-unknown', message: `${unknown} (${cause}): ${lacking}` }], 'association');
    },
  });
};

/** `transport`, noting when the finish of `associationId` is sent: from then on the Registrar may record the association. */
export const watchingFinish = (transport: DeviceTransport, associationId: string) => {
  const finish = DEVICE_PATHS.registrarStep(associationId, 'finish');
  const watch = {
    sent: false,
    transport: {
      get: (path: string) => transport.get(path),
      post: (path: string, body: unknown) => {
        if (path === finish) watch.sent = true;
        return transport.post(path, body);
      },
    } satisfies DeviceTransport,
  };
  return watch;
};
