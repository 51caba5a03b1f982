import * as asn1js from 'asn1js';
import { x509Time as certificateTime } from '../issuance/index.ts';

/** Whole seconds: RFC 5280 (4.1.2.5) and RFC 6960 (RFC 5019 2.2.4) times carry no fractional seconds. */
export const wholeSeconds = (ms: number): Date => new Date(Math.floor(ms / 1000) * 1000);

/** A CRL's thisUpdate, nextUpdate and revocationDate (RFC 5280 5.1.2.4-6), truncated to the second. */
export const x509Time = (ms: number): asn1js.AsnType => certificateTime(wholeSeconds(ms)).toSchema();

/** GeneralizedTime in whole seconds (RFC 6960 4.2.1: producedAt, thisUpdate, nextUpdate, revocationTime). */
export const generalizedTime = (ms: number): asn1js.GeneralizedTime => new asn1js.GeneralizedTime({ valueDate: wholeSeconds(ms) });
