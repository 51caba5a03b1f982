import { signatureAlgorithm } from '../issuance/index.ts';
import type { CaKeyKind } from '../issuing-ca.ts';

/** The AlgorithmIdentifier DER of a CA's (or responder's) signatures, as the issuance side names them. */
export const signatureAlgorithmDer = (kind: CaKeyKind): Uint8Array => new Uint8Array(signatureAlgorithm(kind).toSchema().toBER());
