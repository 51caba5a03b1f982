import { z } from 'zod';
import { toHex } from '../../crypto/bytes.ts';

/**
 * A certificate's serial number as events record it (`CertificateSummary.serialNumber`): lowercase hex of the
 * INTEGER's content octets. Positive and at most 20 octets (RFC 5280 4.1.2.2); a leading 00 only where the next
 * octet's top bit is set.
 */
export const SERIAL_HEX = /^(?:[0-9a-f]{2}){1,21}$/;

export const isSerialHex = (text: string): boolean => {
  if (!SERIAL_HEX.test(text)) return false;
  const first = Number.parseInt(text.slice(0, 2), 16);
  if (first >= 0x80) return false;
  if (first === 0) return text.length > 2 && Number.parseInt(text.slice(2, 4), 16) >= 0x80;
  return text.length <= 40;
};

/** A serial in event form at a boundary (a file of the CA's state): 42 characters at most, then `isSerialHex`. */
export const SerialHex = z.string().max(42).refine(isSerialHex, 'a serial number as lowercase hex of a positive INTEGER');

/** The INTEGER content octets of a serial in event form; throws (naming the argument) on anything else. */
export const serialOctets = (serialNumber: string): Uint8Array => {
  if (!isSerialHex(serialNumber)) throw new RangeError('serialNumber: must be the lowercase hex of a positive INTEGER of at most 20 octets');
  return Uint8Array.from(serialNumber.match(/../g)!, (h) => Number.parseInt(h, 16));
};

/** The event form of INTEGER content octets (as a CertID or certificate carries them). */
export const serialHexOf = (octets: Uint8Array): string => toHex(octets);
