import type { FastifyRequest } from 'fastify';
import { AssociationChallenge, AssociationConfirm, AssociationFinish, AssociationHello, foreignVersionRefusal } from '../../../domain/protocols/index.ts';
import { AssociationPath, PinnedResponder } from '../../protocols/procedures/index.ts';
import type { RouteModule } from '../context.ts';
import { deviceBodyLimit } from '../service-limits-config.ts';
import { answerDevice, helloFloor, helloPeer, logDecoyChallenge, openDeviceEndpoints } from './device-endpoints.ts';

const DEVICE = { access: 'device' } as const;
const TAGS = ['device: association handshake'];

/**
 * A message of another version of the handshake (a version 1 Registree) is told so, `422` `unsupported_version`
 * naming it, as the Registrar answers it in process, before the schema would refuse it as an invalid `version`.
 */
const refuseForeignVersion = (step: string) => async (request: FastifyRequest): Promise<void> => {
  const refused = foreignVersionRefusal(request.body, step);
  if (refused !== undefined) throw refused;
};

/**
 * The Registrar CSE for Registrees across a connection (seed 003 clause 11.3.2), no bearer token (the Registree
 * authenticates inside the handshake with its credential). The association id is in the path: an operator
 * configured it (`configureAssociation`, 11.3.1) and the Registrar resolves the credential from it on every
 * request, keeping nothing between requests but its bounded session table, where hellos from elsewhere cannot end a
 * Registree's run (`helloPeer`). A hello whose credential cannot be used, whatever the reason, gets a decoy challenge
 * of the same shape as a real one (shared/decoy.ts; seeds 002/004, SER-001: a refusal would tell anyone that the
 * credential is not usable), its reason logged, sampled per address (`logDecoyChallenge`); its finish gets what a failed proof gets, or, from
 * the credential's holder, the reason. A finish whose credential ended during the run, before the Registree's proof
 * verified, gets what a failed proof gets too (`bad_mac`), the reason in the log (`answerDevice`); once it verified,
 * the credential is read again and its holder told why (registrar-still-usable.ts). The challenge carries nothing of
 * the credential (no lifetime: that would tell its notAfter to anyone who knows its fingerprint); the Registrar grants
 * the lifetime once the finish's proof verified, records `AssociationEstablished`, then answers with its confirm, which
 * carries the grant under its key confirmation (RegistrarEndpoint). A hello is answered no sooner than the hello floor
 * after it was received (`helloFloor`): its lookups' time must not tell whether the association or credential exists.
 * The finish needs none: before the Registree's proof verifies it reads no record (registrar-still-usable.ts reads
 * again only after).
 */
export const registrarRoutes: RouteModule = async (app, context) => {
  // A device's largest message is under 90 KB (a hello with a full certificate chain): its routes read far less than
  // the API's 1 MiB (SER-001, limits.deviceBodyLimitBytes).
  const bodyLimit = deviceBodyLimit(context.limits);
  const endpoints = await openDeviceEndpoints(context);
  const registrar = async () => (await endpoints()).registrar;
  const noSoonerThanFloor = helloFloor(context);

  app.get('/v1/registrar', {
    config: DEVICE,
    schema: { tags: TAGS, summary: 'The Registrar CSE-ID and public key a Registree is configured with (11.3.1)', response: { 200: PinnedResponder } },
  }, async () => (await registrar()).identity());

  app.post('/v1/registrar/associations/:associationId/hello', {
    config: DEVICE,
    bodyLimit,
    schema: {
      tags: TAGS,
      summary: 'Step 1: the Registree\'s hello for a configured association; answered with the signed challenge',
      description:
        'A credential that cannot be used for this association (unknown, not configured for it, revoked, expired, not yet valid) gets a decoy ' +
        'challenge of the same shape, not a refusal, which would tell anyone that it is not usable; its finish is refused as a failed proof ' +
        '(or, to the holder of a credential configured for the association, with the reason). ' +
        'The challenge tells nothing of the credential: the lifetime is granted in the confirm. ' +
        'A message of another handshake version is 422 `unsupported_version`. ' +
        'Every hello is answered no sooner than `limits.helloFloorMs` after it was received, whatever the answer.',
      params: AssociationPath,
      body: AssociationHello,
      response: { 200: AssociationChallenge },
    },
    preValidation: refuseForeignVersion('association.hello'),
  }, async (request) =>
    noSoonerThanFloor(() =>
      answerDevice(request.log, async () =>
        (await registrar()).acceptHello(request.params.associationId, request.body, helloPeer(request), (refusal) => logDecoyChallenge(request, refusal, context)))));

  app.post('/v1/registrar/associations/:associationId/finish', {
    config: DEVICE,
    bodyLimit,
    schema: {
      tags: TAGS,
      summary: 'Step 3: the Registree\'s finish; once it verifies, AssociationEstablished is recorded and the confirm, with the granted lifetime, returned',
      description:
        'Like a TLS 1.3 server after the client Finished, the Registrar records on a verified finish; the Registree reports the association once it has verified the confirm ' +
        'and its grant (the lifetime and expiry, covered by the confirm\'s key confirmation). ' +
        'The finish of a decoy run (its hello\'s credential could not be used) is 422 `bad_signature` or `bad_mac` as any failed proof, or, when its proof ' +
        'verifies with the credential the association was configured with, 422 with the reason (`credential_revoked`, `credential_expired`, ...), ' +
        'or, the credential usable, why the association takes no handshake (`association_not_waiting` naming its state, `node_not_enrolled`, ' +
        '`subscription_ended`, `cse_id_moved`, `app_id_not_enrolled`). ' +
        'A credential that ended during the handshake (revoked, its key destroyed) is 422 `bad_mac` or `bad_signature`, word for word what a failed proof gets, ' +
        'to a Registree whose proof does not verify (or whose PSK is gone), and, read again once the proof verifies, 422 with the reason ' +
        '(`credential_revoked`, ...) to the Registree that holds it; nothing is granted or recorded. One whose proof verified ' +
        'but that leaves no lifetime after the margin is 422 `lifetime_exhausted`. Of two finishes of one association at once (two runs), the one ' +
        'recorded second is 422 `association_not_waiting` naming the state, its keys destroyed.',
      params: AssociationPath,
      body: AssociationFinish,
      response: { 201: AssociationConfirm },
    },
    preValidation: refuseForeignVersion('association.finish'),
  }, async (request, reply) =>
    reply.code(201).send(await answerDevice(request.log, async () => (await registrar()).acceptFinish(request.params.associationId, request.body))));
};
