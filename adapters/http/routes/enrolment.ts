import { z } from 'zod';
import { Identifier } from '../../../domain/crypto/credential.ts';
import { CredentialId } from '../../../domain/ids.ts';
import { Proof, ProvisioningAuth, ProvisioningChallenge, ProvisioningDelivery, ProvisioningHello, ProvisioningReceipt } from '../../../domain/protocols/index.ts';
import { PinnedResponder, ProvisioningHelloQuery, ProvisioningRecorded } from '../../protocols/procedures/index.ts';
import type { RouteModule } from '../context.ts';
import { deviceBodyLimit } from '../service-limits-config.ts';
import { documentedAs } from '../query-values.ts';
import { PROBLEM_CONTENT_TYPE, ProblemSchema } from '../problems.ts';
import { answerDevice, helloFloor, helloPeer, logDecoyChallenge, openDeviceEndpoints } from './device-endpoints.ts';

const DEVICE = { access: 'device' } as const;
const TAGS = ['device: remote provisioning'];

/**
 * A hello's `credentialId` and `predecessorId` (body and query), documented by the rule the endpoint refuses them by,
 * the domain `CredentialId` (EnrolmentEndpoint, 422 `malformed`), not the message's looser `Identifier`: a client
 * generated from the document refuses what the endpoint refuses (found in review: it allowed any printable ASCII up
 * to 256). Documentation only: the message schema still reads them, and the endpoint still refuses them, as before.
 */
const RecordableId = documentedAs(Identifier, CredentialId, 'input').optional();
const HelloMessage = ProvisioningHello.safeExtend({ credentialId: RecordableId, predecessorId: RecordableId });
/**
 * The hello as the route reads it, documented with `credentialId` required (review 432): the message leaves it out
 * (a hello within the service names none), but over a connection the endpoint refuses a hello without it, 422
 * `malformed` (EnrolmentEndpoint). Documentation only: the route reads, and refuses, as before.
 */
const HelloBody = HelloMessage.meta({
  required: [...new Set([...((z.toJSONSchema(HelloMessage, { io: 'input', unrepresentable: 'any' }).required as string[] | undefined) ?? []), 'credentialId'])],
});
const HelloQuery = ProvisioningHelloQuery.extend({ predecessorId: RecordableId });

/**
 * A refusal of the receipt (review 333): final ones carry the Enrolment Function's proof that it refused that very
 * receipt (domain/protocols/receipt-refusal.ts), by which alone the device destroys its new key.
 */
const ReceiptRefusal = ProblemSchema.safeExtend({
  refusalProof: Proof.optional().describe(
    "the Enrolment Function's signature, with the key the device pinned, over credence/provisioning/receipt-refusal: the run's transcript hash, " +
      "the receipt's hash and the problem's code (and a protocol refusal's reason); on a final refusal of a run past its auth, never on `unknown_session`",
  ),
}).meta({ id: 'ReceiptRefusal', description: 'RFC 9457 problem details of a refused provisioning receipt' });

const receiptRefusal = (description: string) => ({ description, content: { [PROBLEM_CONTENT_TYPE]: { schema: ReceiptRefusal } } });

/**
 * The M2M Enrolment Function for devices across a connection (seed 003 clause 11.2.1): one route per message of
 * remote provisioning, no bearer token (the node authenticates inside the protocol with its bootstrap
 * credential). Refusals are `protocol` problems naming the step and the reason; a refused message records nothing, and
 * ends its run once its proof was checked, but for a failed proof before the run's third (review 238). A hello whose
 * bootstrap credential cannot be used is not refused but answered with a decoy challenge of the same shape (shared/decoy.ts; seeds 002/004, SER-001), its auth refused as a failed proof, or with the real
 * reason to a node whose proof verifies with the credential; an auth whose credential ended during the run is answered
 * so too (a failed proof, the reason to the log, `logConcealed`, `answerDevice`; the reason to its holder). A hello's
 * run is bounded with the other runs its address began in the node's name (`helloPeer`), so hellos from elsewhere
 * cannot end it. A hello is answered no sooner than the hello floor after it was received (`helloFloor`), so that its
 * lookups' time does not tell whether the node exists; the auth and the receipt read no record before the node's
 * proof verifies (the auth's re-read of the bootstrap comes after it), so they need none. The credential is recorded
 * when its receipt verifies (EnrolmentEndpoint). Every step, the receipt too, answers through `answerDevice`, so a
 * fault of the service's met while serving it (its Secure Environment's about a key of its own) is a 500, never told
 * as the device's (review 187: the receipt went without it, and told a key handle as a 400).
 */
export const enrolmentRoutes: RouteModule = async (app, context) => {
  // A device's largest message is under 90 KB (a hello with a full certificate chain): its routes read far less than
  // the API's 1 MiB (SER-001, limits.deviceBodyLimitBytes).
  const bodyLimit = deviceBodyLimit(context.limits);
  const endpoints = await openDeviceEndpoints(context);
  const ef = async () => (await endpoints()).enrolment;
  const noSoonerThanFloor = helloFloor(context);

  app.get('/v1/enrolment', {
    config: DEVICE,
    schema: { tags: TAGS, summary: 'The Enrolment Function id and public key a node pins at the factory', response: { 200: PinnedResponder } },
  }, async () => (await ef()).identity());

  app.post('/v1/enrolment/hello', {
    config: DEVICE,
    bodyLimit,
    schema: {
      tags: TAGS,
      summary: 'Step 1: the node\'s hello; answered with the signed challenge',
      description:
        'The hello must name `credentialId`, the id the new credential is recorded under (the receipt statement binds it): ' +
        'a credential id as the engine records one (letters, digits and . _ : ~ -, 1 to 128, starting with a letter or digit), ' +
        'as is `predecessorId`; any other is 422 `malformed` naming the field, before any run begins, but for one that is not printable ' +
        'ASCII without spaces, 1 to 256 characters (the message\'s identifier), which is 400 `validation`, refused with the body. ' +
        'The hello\'s `predecessorId` links a successor to the live credential of the same node it replaces (rotation, HLR-212), ' +
        'covered by the node\'s proofs; the query\'s, if sent, must be the same. The operator starts the rotation itself ' +
        '(startCredentialRotation). Whether the id is ' +
        'free and the predecessor qualifies is answered at step 3, once the node has authenticated (400 naming the field), never to a hello. ' +
        'A bootstrap credential that cannot be used (unknown, revoked, expired or not yet valid) gets a challenge of the same shape all the same, ' +
        'refused at step 3 as a failed proof (`bad_mac` or `bad_signature`), or, to a node whose proof verifies with the credential, with the reason. ' +
        'Every hello is answered no sooner than `limits.helloFloorMs` after it was received, whatever the answer.',
      querystring: HelloQuery,
      body: HelloBody,
      response: { 200: ProvisioningChallenge },
    },
  }, async (request) =>
    noSoonerThanFloor(() =>
      answerDevice(request.log, async () =>
        (await ef()).acceptHello(request.body, request.query, helloPeer(request), (refusal) => logDecoyChallenge(request, refusal, context)))));

  app.post('/v1/enrolment/auth', {
    config: DEVICE,
    bodyLimit,
    schema: {
      tags: TAGS,
      summary: 'Step 3: the node\'s proof (and, for a key pair, its public key with proof of possession); answered with the delivery',
      description:
        'A bootstrap credential that ended during the run (revoked, its node revoked, expired, its key destroyed) is answered as the auth of a decoy run is: ' +
        'as a failed proof (`bad_mac` or `bad_signature`) to a node whose proof does not verify (or whose bootstrap PSK is gone), ' +
        'and, read again once the proof verifies, with the reason (`credential_revoked`, ...) to the node that holds it; nothing is delivered.',
      body: ProvisioningAuth,
      response: { 200: ProvisioningDelivery },
    },
  }, async (request) => answerDevice(request.log, async () => (await ef()).acceptAuth(request.body)));

  app.post('/v1/enrolment/receipt', {
    config: DEVICE,
    bodyLimit,
    schema: {
      tags: TAGS,
      summary: 'Step 5: the node\'s receipt; once it verifies, CredentialIssued and CredentialProvisioned (with the receipt) are recorded',
      body: ProvisioningReceipt,
      response: {
        201: ProvisioningRecorded,
        409: receiptRefusal('the engine refused the record (`illegal_transition`: the node revoked since its auth, its subscription ended; `concurrency_conflict`), with `refusalProof`'),
        422: receiptRefusal(
          'a `protocol` refusal at `provisioning.receipt`: with `refusalProof` once the receipt was taken into its run (a failed proof, `certificate_not_issued`, ' +
            '`credential_mismatch` at the record); without it before (`stale`, `credential_mismatch`, `malformed`) and for `unknown_session`',
        ),
      },
    },
  }, async (request, reply) => reply.code(201).send(await answerDevice(request.log, async () => (await ef()).acceptReceipt(request.body))));
};
