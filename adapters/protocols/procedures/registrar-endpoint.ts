import { isCredenceError, type CredenceError } from '../../../domain/errors.ts';
import { AssociationFinish, type AssociationChallenge, type AssociationConfirm } from '../../../domain/protocols/association-messages.ts';
import { parseAssociationMessage } from '../../../domain/protocols/association-version.ts';
import type { Infrastructure } from './infrastructure.ts';
import { recordAssociation } from './record.ts';
import { finishRecordRefusal } from './registrar-credentials.ts';
import type { PinnedResponder } from './wire.ts';
import type { Claim } from '../shared/session-table.ts';
import type { RunWatch } from '../shared/failed-proofs.ts';
import { AnsweredRuns } from './answered-runs.ts';

const FINISH = 'association.finish';

/**
 * The Registrar CSE (seed 003 clause 11.3.2) driven one message at a time, for a Registree across a connection. A
 * handshake is for one association an operator configured (11.3.1, `configureAssociation`), named by the caller:
 * each hello is resolved against that association as the engine has it now (configured, with this Registrar,
 * for this Registree, and its credential), so nothing is kept between requests but the Registrar's bounded
 * session table (issue 11 item 4), and a finish is accepted only for the association its hello named.
 *
 * When it records: here the Registrar records `AssociationEstablished` as soon as it has verified the Registree's
 * finish (its proof and key confirmation), then answers with its confirm, as a TLS 1.3 server takes the connection
 * as established after the client's Finished (RFC 8446 4.4.4). The Registree still reports the association only
 * once it has verified that confirm; a confirm lost on the way leaves the association recorded with keys only the
 * Registrar holds, which its expiry or a revocation ends (and shreds). The in-process `SecurityProcedures.establish`
 * keeps recording after both ends confirmed, which it can do because it runs both.
 */
export class RegistrarEndpoint {
  /** The answers of the runs a finish ended, for a repeat of that finish (answered-runs.ts, review 238). */
  readonly #answered: AnsweredRuns<AssociationConfirm>;

  constructor(private readonly infra: Infrastructure) {
    this.#answered = new AnsweredRuns(() => infra.o.engine.clock.now());
  }

  /** What a Registree is configured with to authenticate this Registrar CSE (11.3.1). */
  identity(): Promise<PinnedResponder> {
    return this.infra.pinned('registrar');
  }

  /**
   * `peer`: the address the hello came from (`Claim.peer`), so that hellos from elsewhere never end this Registree's
   * run. A hello whose credential cannot be used gets a decoy challenge (shared/decoy.ts); `concealed` is told why.
   */
  acceptHello(associationId: string, input: unknown, peer?: Claim['peer'], concealed?: (refusal: CredenceError) => void): Promise<AssociationChallenge> {
    return this.infra.registrar.acceptHello(input, this.infra.registrarScope(associationId), peer, concealed);
  }

  /**
   * Verifies the finish, records `AssociationEstablished`, and only then answers with the confirm. A record the
   * association machine refuses is told to the Registree, whose proof verified, as a finish arriving after that change
   * is (`refusalToHolder`; finishRecordRefusal): review 224, two finishes of one association at once (a device retrying
   * after a client timeout while its first is being recorded) both pass the finish's check that the association waits,
   * which comes before keys are derived, and the loser was told the engine's `409 illegal_transition` instead of
   * `association_not_waiting` naming the state; review 345, a credential revoked between the finish's read of it and
   * the record (`credential_revoked`), or a rotation started there, its overlap ending before the grant
   * (`lifetime_exceeds_credential`), got that 409 too. Its keys are destroyed by `recordAssociation` either way. A repeat of
   * the finish that ended its run, within the run's timeout, gets that finish's answer (answered-runs.ts, review 238:
   * a copy that got in first had the association recorded and the Registree's own finish told `unknown_session`).
   */
  async acceptFinish(associationId: string, input: unknown): Promise<AssociationConfirm> {
    const { sessionId } = parseAssociationMessage(AssociationFinish, input, FINISH);
    // The path's association is part of the message: the same body sent for another association is another message.
    return this.#answered.answer(FINISH, sessionId, [associationId, input], (watch) => this.#record(associationId, input, watch));
  }

  async #record(associationId: string, input: unknown, watch: RunWatch): Promise<AssociationConfirm> {
    const { confirm, outcome } = await this.infra.registrar.acceptFinish(input, associationId, watch);
    try {
      await recordAssociation(this.infra, associationId, outcome);
    } catch (error) {
      if (!isCredenceError(error, 'illegal_transition')) throw error;
      throw await finishRecordRefusal(this.infra.o, this.infra.registrarCseId, associationId, outcome, error, FINISH);
    }
    return confirm;
  }
}
