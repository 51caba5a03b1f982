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
   * The node whose frame names a CSE-ID it does not hold (an association's registrar): a CSE-ID of another node is named
   * under this one, never under its owner's epochs, which a move's rotation gives the old and the new subscription
   * alike (review 375; SER-025). A CSE-ID of no node (the infrastructure's) keeps its one stable name.
   */
  readonly namedBy?: string;
}
