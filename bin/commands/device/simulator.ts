import { openDataFolderSecureEnvironment, systemRandom, type EmbeddedSecureEnvironment } from '../../../adapters/runtime/index.ts';
import { Device } from '../../../adapters/protocols/procedures/index.ts';
import { lockDeviceFolder, type SayOnStderr } from './folder-lock.ts';
import { readState, writeState, type DeviceState } from './state.ts';

export const random = systemRandom;
export const now = (): Date => new Date();

/** The device's own Secure Environment in `dir` (made on first use, its files private), like a data folder's. */
export const openDeviceSecureEnvironment = (dir: string): EmbeddedSecureEnvironment => openDataFolderSecureEnvironment(dir, { now });

/** A device opened from its folder: the protocol ends' Device, its state, and a way to keep what changed. */
export interface SimulatedDevice {
  readonly dir: string;
  readonly device: Device;
  /** The clock the Device runs on: what has expired is judged by it. */
  readonly now: () => Date;
  state: DeviceState;
  /** Where the command that opened it says a line on stderr (what it swept: folder-lock.ts, unnamed-keys.ts), if anywhere. */
  readonly say?: SayOnStderr | undefined;
  /** Writes the state file: the credentials the Device now holds, and `state` as changed by the caller. */
  save(): void;
  close(): void;
}

const restore = (device: Device, state: DeviceState): void => {
  device.adoptBootstrap({ handle: state.bootstrap.handle, descriptor: state.bootstrap.descriptor });
  for (const c of state.credentials) device.credentials.set(c.credentialId, { handle: c.handle, descriptor: c.descriptor });
  device.cseId = state.cseId;
};

/**
 * Wraps an opened Secure Environment and a known state (a new device at the factory, or one read from its folder);
 * `onClose` runs once it is closed (openDevice lets go of the folder's lock there); `say` is the command's stderr.
 */
export const simulatedDevice = (dir: string, se: EmbeddedSecureEnvironment, state: DeviceState, onClose?: () => void, say?: SayOnStderr): SimulatedDevice => {
  const device = new Device({ nodeId: state.nodeId, se, now, random });
  restore(device, state);
  const self: SimulatedDevice = {
    dir,
    device,
    now,
    state,
    say,
    save() {
      const credentials = [...device.credentials].map(([credentialId, c]) => ({ credentialId, handle: c.handle, descriptor: c.descriptor }));
      self.state = { ...self.state, credentials, ...(device.cseId !== undefined ? { cseId: device.cseId } : {}) };
      writeState(dir, self.state);
    },
    close: () => {
      try {
        se.close();
      } finally {
        onClose?.();
      }
    },
  };
  return self;
};

/**
 * The device of `dir`, its folder locked until `close` (folder-lock.ts): no other `credence device` command reads
 * its state to write it back, or uses its Secure Environment, meanwhile. While another holds it, refused at once,
 * before anything is read or sent. The temps of interrupted writes the lock's sweep removed are said through `say`,
 * and so are the keys no file named that the command then destroys first (it is opened synchronously, so each
 * command calls destroyUnnamedKeys, unnamed-keys.ts, before anything else).
 */
export const openDevice = (dir: string, say?: SayOnStderr): SimulatedDevice => {
  // A folder that holds no device is refused as it is: no lock file is made in it. The state is read again, locked.
  readState(dir);
  const lock = lockDeviceFolder(dir, say);
  try {
    const state = readState(dir);
    return simulatedDevice(dir, openDeviceSecureEnvironment(dir), state, () => lock.release(), say);
  } catch (error) {
    lock.release();
    throw error;
  }
};
