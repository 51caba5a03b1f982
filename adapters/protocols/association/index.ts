/** Association configuration and handshake between a Registree (CSE/AE) and its Registrar CSE (seed 003 clause 11.3). */
export { Registrar } from './registrar.ts';
export type { AssociationClosed, RegistrarOptions, RegistrarScope, RegistreeCredential } from './registrar-options.ts';
export { Registree, RegistreeHandshake } from './registree.ts';
export type { RegistreeOptions } from './registree.ts';
