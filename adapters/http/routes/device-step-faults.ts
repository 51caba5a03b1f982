import { isCredenceError } from '../../../domain/errors.ts';
import { AssociationFinish, AssociationHello, ProvisioningAuth, ProvisioningHello, ProvisioningReceipt } from '../../../domain/protocols/index.ts';
import { AssociationPath, ProvisioningHelloQuery } from '../../protocols/procedures/index.ts';

/**
 * What a `validation` refusal may name to be a device's own: a field of a message of its runs (the run's admission
 * names the hello's `nodeId`, `credentialId` or `predecessorId` at the auth, run-admission.ts), of the hello's query
 * or the association path, or a part of the request (the HTTP layer's `body.…`). Read off the messages' schemas, so a
 * field added to a message is its device's too.
 */
const DEVICE_FIELDS: ReadonlySet<string> = new Set([
  ...[ProvisioningHello, ProvisioningAuth, ProvisioningReceipt, AssociationHello, AssociationFinish, ProvisioningHelloQuery, AssociationPath].flatMap((m) =>
    Object.keys(m.shape)),
  'body',
  'query',
  'params',
]);

const fieldOf = (path: string): string => path.split(/[.[]/, 1)[0]!;

/**
 * Whether `error` is a `validation` refusal that is not about the device's message: every issue must name one of its
 * fields for it to be the device's. The rest, whatever raised them, are the service's own: a Secure Environment's
 * about a key of the service (PKCS#11 `handle`/`host_key` naming the handle, `token`/`ec_point`, `session`/`open` while
 * the service stops), or the engine's about a command the infrastructure built (`data.…`, `metadata.…`). Decided
 * by what the issues name rather than by who raised them, so that a new source of such faults is the service's until
 * its issues name the device's message (fail closed, SER-001).
 */
const isServiceFault = (error: unknown): boolean =>
  isCredenceError(error, 'validation') &&
  error.problem.code === 'validation' &&
  !(error.problem.issues.length > 0 && error.problem.issues.every((issue) => DEVICE_FIELDS.has(fieldOf(issue.path))));

/**
 * Whether `error` is an `unauthorised` met while serving a device step, always the service's fault: the Secure
 * Environment's ownership check (`requireHeldBy`, "key <handle> belongs to another owner"; `requireServedOwner`), told
 * to a device as a 403 naming a key handle or an owner name of the service's, as though the device had been refused. A
 * device step never authenticates by a token or by that check (the device proves itself by its messages, refused as
 * `protocol`; its routes answer no 401 or 403 of their own, http-role-matrix.test.ts; the engine's refusal of a
 * command the service built is InfrastructureCommandUnauthorised). Every `unauthorised`, not those of one wording:
 * fail closed, as for validation faults (review 187).
 */
const isRefusalOfTheService = (error: unknown): boolean => isCredenceError(error, 'unauthorised');

/**
 * A fault of the service met while serving a device step: not a CredenceError, so the error handler answers it 500
 * `internal` with no detail, and logs it at error with its cause, the Secure Environment's or the engine's words.
 */
export class ServiceFaultAtDeviceStep extends Error {
  constructor(cause: unknown) {
    super("a device step failed on a fault of the service's own (its Secure Environment, or a command it built), not of the device's message", { cause });
    this.name = 'ServiceFaultAtDeviceStep';
  }
}

/**
 * `error` as a device is to be answered: a `validation` that is not about its message (`isServiceFault`), or the
 * `unauthorised` (`isRefusalOfTheService`: the Secure Environment's ownership check), as the service's fault, 500 with no detail (they were a
 * 400 or a 403 naming, say, a key handle and what the token did, review 187: a server key's fault told to a stranger
 * as its own mistake, SER-001); anything else as it is.
 */
export const asDeviceAnswer = (error: unknown): unknown =>
  isServiceFault(error) || isRefusalOfTheService(error) ? new ServiceFaultAtDeviceStep(error) : error;
