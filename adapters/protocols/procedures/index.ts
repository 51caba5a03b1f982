export { Infrastructure } from './infrastructure.ts';
export type { InfrastructureOptions } from './infrastructure.ts';
export { SecurityProcedures } from './procedures.ts';
export { Device } from './device.ts';
export type { DeviceCredential, DeviceOptions } from './device.ts';
export type { KeyBinding, KeyRegistry } from './key-registry.ts';
export { keyShredder } from './shredder.ts';
export { transferKey } from './transfer-key.ts';
export { descriptorOf, issuedFrom, receiptFrom } from './descriptors.ts';
