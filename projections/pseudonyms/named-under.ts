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
}
