import { z } from 'zod';
import { fromBase64url, tryFromBase64url } from '../../../domain/crypto/base64url.ts';
import { verifySignature } from '../../../domain/crypto/signatures.ts';
import { Proof } from '../../../domain/protocols/protocol.ts';
import { receiptHash, receiptRefusalProofInput } from '../../../domain/protocols/receipt-refusal.ts';
import type { ProvisioningReceipt } from '../../../domain/protocols/enrolment-messages.ts';
import { PROBLEM_TYPE_BASE } from '../../http/problem-type-base.ts';
import type { PinnedResponder } from '../../protocols/procedures/index.ts';
import { refusedForGood } from '../refused-for-good.ts';
import { isServiceProblem } from '../service-problem.ts';

/**
 * The members of a receipt refusal's problem document the proof covers besides its type: the proof itself
 * (`refusalProof`, a signature's size, base64url) and a protocol refusal's `reason` (the service's reasons are short
 * rule names). Anything else in the document is left as it is; a member out of these bounds makes no proof.
 */
const SignedRefusal = z.looseObject({
  refusalProof: Proof,
  reason: z.string().max(64).optional(),
});

/**
 * Whether `error`, the answer to `receipt` sent in the run whose transcript through the receipt is `transcriptHash`,
 * is the Enrolment Function's own refusal of that very receipt (domain/protocols/receipt-refusal.ts; review 333): a
 * 4xx problem of Credence's own type (`refusedForGood`) carrying a `refusalProof` that verifies under the key the
 * device pinned at the factory (`enrolmentFunction`), over this run's transcript hash, this receipt's hash and the
 * problem's code (and a protocol refusal's reason). The server signs a refusal only once it is final: nothing was
 * recorded for the receipt, nor will be. Anything else (no proof, a proof under another key, of another run or
 * another receipt, such as one altered on the path, a 5xx, a gateway's page) is no such word: the device keeps its key.
 */
export const receiptRefusedByTheServer = (
  error: unknown,
  enrolmentFunction: PinnedResponder,
  run: { readonly transcriptHash: string; readonly receipt: ProvisioningReceipt },
): boolean => {
  if (!isServiceProblem(error) || !refusedForGood(error)) return false;
  const members = SignedRefusal.safeParse(error.problem);
  if (!members.success) return false;
  const code = error.problem.type.slice(PROBLEM_TYPE_BASE.length);
  const reason = code === 'protocol' ? members.data.reason : undefined;
  if (code === 'protocol' && reason === undefined) return false;
  const signature = tryFromBase64url(members.data.refusalProof);
  if (signature === undefined) return false;
  const { kind, publicKey } = enrolmentFunction.publicKey;
  try {
    const input = receiptRefusalProofInput({ transcriptHash: run.transcriptHash, receiptHash: receiptHash(run.receipt), code, reason });
    return verifySignature(kind, fromBase64url(publicKey), input, signature);
  } catch {
    // A pinned key the curve library will not take verifies nothing.
    return false;
  }
};
