/** Remote provisioning through an M2M Enrolment Function (seed 003 clause 11.2.1): both ends. */
export { EnrolmentFunction } from './enrolment-function.ts';
export { withRefusalProof } from './enrolment-receipt.ts';
export type { BootstrapCredential, EnrolmentFunctionOptions, RunContext } from './enrolment-function.ts';
export type { CertificateIssuance } from './certificate-issuance.ts';
export { NodeProvisioningSession, ProvisioningClient, withCertificate } from './node-client.ts';
export type { ProvisioningClientOptions, ProvisioningRequest } from './node-client.ts';
