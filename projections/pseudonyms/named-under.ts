/**
 * Where an identifier that is not itself a node's stands, for the frame that names it: an AE-ID is known only under a
 * node (a C-prefixed AE-ID is unique only under its registrar, so two live nodes may hold one), the node of the
 * association it is named with or the node the event names.
 */
export interface NamedUnder {
  readonly nodeId?: string;
  readonly associationId?: string;
  /**
   * The credential an AE-ID owns, at its issue: the AE-ID is named under that credential's node, or, while the
   * credential is bound to none, with the credential itself as context (each issuance its own pseudonym, review 45).
   */
  readonly credentialId?: string;
  /**
   * The node whose frame names a CSE-ID it does not hold (an association's registrar): the CSE-ID is named under this
   * node whoever holds it, never under its owner's epochs, which a move's rotation gives the old and the new
   * subscription alike (review 375), nor as no node's while no node holds it (a gateway not enrolled yet, a CSE Credence
   * does not manage), which would carry one name across this node's epochs (review 379; SER-025). Only the
   * infrastructure's own Registrar CSE (`INFRASTRUCTURE_REGISTRAR_CSE_ID`) keeps its one stable name.
   */
  readonly namedBy?: string;
}

/**
 * The Registrar CSE-ID of the infrastructure this service is (`Infrastructure.registrarCseId`'s default in
 * adapters/protocols/procedures/infrastructure.ts, which a deployment cannot change; docs/service.md "the Registrar
 * CSE `/in-cse`"): the one registrar every node shares, so its name links no node more than any other's.
 */
export const INFRASTRUCTURE_REGISTRAR_CSE_ID = '/in-cse';
