/** The device's side of remote provisioning and the association handshake over HTTP (the device simulator's core). */
export { associateOverHttp, FinishOutcomeUnknown } from './associate.ts';
export type { AssociateRequest } from './associate.ts';
export { fetchPinnedInfrastructure, fetchResponder } from './pinned.ts';
export type { PinnedInfrastructure } from './pinned.ts';
export { provisionOverHttp, ReceiptOutcomeUnknown } from './provision.ts';
export { fetchRecordedCertificate, RECORDED_CERTIFICATE } from './recorded-certificate.ts';
export type { ProvisionRequest } from './provision.ts';
export { DEVICE_PATHS, httpDeviceTransport, MAX_DEVICE_ANSWER_BYTES } from './transport.ts';
export type { DeviceTransport, DeviceTransportOptions } from './transport.ts';
