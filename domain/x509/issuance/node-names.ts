import { nameOf, OID } from './signed.ts';

/**
 * How an operational certificate names its node (issue 13; docs/pki.md "Certificates from CSRs"):
 *   subject  CN=<Node-ID>                          (left empty when the Node-ID is longer than 64 characters,
 *                                                   the X.520 upper bound of a commonName; the SAN is then critical)
 *   SAN      URI urn:onem2m:node:<Node-ID>         always
 *            URI urn:onem2m:cse:<CSE-ID>           when the node's service parameters carry a CSE-ID
 * Identifiers are percent-encoded as a URI component (RFC 3986: everything outside the unreserved characters
 * and `!'()*`), so a CSE-ID such as `/in-cse` becomes `urn:onem2m:cse:%2Fin-cse`.
 */
export const NODE_URN_PREFIX = 'urn:onem2m:node:';
export const CSE_URN_PREFIX = 'urn:onem2m:cse:';

/** RFC 5280 appendix A ub-common-name. */
export const MAX_COMMON_NAME = 64;

export const nodeUri = (nodeId: string): string => `${NODE_URN_PREFIX}${encodeURIComponent(nodeId)}`;
export const cseUri = (cseId: string): string => `${CSE_URN_PREFIX}${encodeURIComponent(cseId)}`;

export interface NodeNaming {
  readonly nodeId: string;
  readonly cseId?: string | undefined;
}

/** The URIs a certificate of this node carries, node first. */
export const nodeUris = (n: NodeNaming): string[] => [nodeUri(n.nodeId), ...(n.cseId !== undefined ? [cseUri(n.cseId)] : [])];

/** The subject Name of a node's certificate (DER), and whether it is empty. */
export const nodeSubject = (nodeId: string): { readonly name: Uint8Array; readonly empty: boolean } =>
  nodeId.length <= MAX_COMMON_NAME ? { name: nameOf([{ type: OID.commonName, value: nodeId }]), empty: false } : { name: nameOf([]), empty: true };
