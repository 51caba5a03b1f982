import { join } from 'node:path';
import { ProblemResponse, ServerUnreachable, type ProblemDocument } from '../../../adapters/client/http.ts';
import type { CredentialKind } from '../../../domain/crypto/credential.ts';
import type { SayOnStderr } from './folder-lock.ts';
import { openDevice } from './simulator.ts';
import { associate, operatorCommand, provision, type OperatorTarget } from './steps.ts';
import { factory } from './factory.ts';

export interface FleetRequest {
  readonly count: number;
  readonly concurrency: number;
  /** Where each device gets its own folder. */
  readonly root: string;
  /** Node ids are `<prefix>-1` … `<prefix>-<count>`; the subscription is `<prefix>-sub`. */
  readonly prefix: string;
  readonly lifetimeSeconds: number;
}

export interface FleetFailure {
  readonly nodeId: string;
  readonly step: Step;
  readonly message: string;
}

export interface FleetSummary {
  readonly count: number;
  readonly initialised: number;
  readonly provisioned: number;
  readonly associated: number;
  readonly failed: number;
  /** The first failures (at most ten), each with its step. */
  readonly failures: readonly FleetFailure[];
  readonly seconds: number;
  /** Devices taken through all three steps per second. */
  readonly devicesPerSecond: number;
  readonly unreachable: boolean;
}

type Step = 'init' | 'enrol' | 'provision' | 'associate';
const MAX_REPORTED = 10;
const BOOTSTRAP: readonly ('ed25519' | 'p256')[] = ['ed25519', 'p256'];
const SERVICE: readonly CredentialKind[] = ['ed25519', 'p256', 'psk256'];
const profile = { class: 'smart-meter', manufacturer: 'Credence Simulator', model: 'SIM-1', capabilities: ['metering'] };

/**
 * How long a problem's hint may run in a failed device's summary line: a server's may be as long as the message
 * limits allow, and the summary is read a line per device. The hints the device commands add (what a failure leaves
 * pending and what settles it, a state file's path included) fit.
 */
export const HINT_MAX = 600;

/** A problem's `hint` member, cut to HINT_MAX; empty when it has none. */
const hintOf = (problem: ProblemDocument): string => {
  const hint = problem['hint'];
  if (typeof hint !== 'string' || hint === '') return '';
  return `; hint: ${hint.length > HINT_MAX ? `${hint.slice(0, HINT_MAX)}…` : hint}`;
};

/** A failed device's message: a problem's status, title, detail and hint (what the single-device commands print). */
const describe = (error: unknown): string => {
  if (error instanceof ProblemResponse) return `${error.status} ${error.problem.title}${error.problem.detail ? `: ${error.problem.detail}` : ''}${hintOf(error.problem)}`;
  if (error instanceof Error) return error.message;
  return String(error);
};

/**
 * `credence device fleet`: N simulated devices, each with its own Secure Environment, through the factory,
 * enrolment under one subscription, remote provisioning and an association handshake, against one server; kinds
 * alternate so every protocol mode runs. A device's failure of any kind (a refusal, no answer, an answer that is not
 * what the route returns) is that device's, counted with its message, never fatal to the others. Only a failure
 * outside any device (the progress callback) stops the run: every worker stops taking devices, and the run ends
 * once each has finished the one it holds, so nothing writes into the devices' folder after the run returns (found
 * in review: a re-thrown error ended the command while the other workers went on making keys in a folder already
 * removed, and made again). The temps of interrupted writes a device folder's lock swept (a `--dir` a killed run left)
 * are said through `say`, one line per folder that had any, as the single-device commands say theirs.
 */
export const runFleet = async (
  target: OperatorTarget,
  r: FleetRequest,
  onProgress: (done: number) => void = () => {},
  say?: SayOnStderr,
): Promise<FleetSummary> => {
  const started = performance.now();
  const subscriptionId = `${r.prefix}-sub`;
  const notBefore = new Date();
  await operatorCommand(target, 'createSubscription', {
    subscriptionId, subscriber: 'credence device fleet', notBefore: notBefore.toISOString(), notAfter: new Date(notBefore.getTime() + 2 * 365 * 86_400_000).toISOString(),
  });
  const counts = { init: 0, enrol: 0, provision: 0, associate: 0 };
  const failures: FleetFailure[] = [];
  let failed = 0;
  let unreachable = 0;
  let done = 0;

  const one = async (index: number): Promise<void> => {
    const nodeId = `${r.prefix}-${index + 1}`;
    const dir = join(r.root, nodeId);
    let step: Step = 'init';
    try {
      await factory(target, {
        dir, nodeId, kind: BOOTSTRAP[index % BOOTSTRAP.length]!, profile, bootstrapCredentialId: `${nodeId}-bootstrap`, validForSeconds: 5 * 365 * 86_400,
      }, undefined, say);
      counts.init++;
      step = 'enrol';
      await operatorCommand(target, 'enrolNode', { nodeId, subscriptionId, cseId: `/${nodeId}-cse` });
      counts.enrol++;
      const sim = openDevice(dir, say);
      try {
        step = 'provision';
        await provision(target, sim, { credentialId: `${nodeId}-service`, kind: SERVICE[index % SERVICE.length]! });
        counts.provision++;
        step = 'associate';
        await associate(target, sim, { associationId: `${nodeId}-sa`, credentialId: `${nodeId}-service`, lifetimeSeconds: r.lifetimeSeconds, configureWith: target });
        counts.associate++;
      } finally {
        sim.close();
      }
    } catch (error) {
      failed++;
      if (error instanceof ServerUnreachable) unreachable++;
      if (failures.length < MAX_REPORTED) failures.push({ nodeId, step, message: describe(error) });
    } finally {
      onProgress(++done);
    }
  };

  let next = 0;
  let stopped = false;
  const worker = async (): Promise<void> => {
    try {
      while (!stopped && next < r.count) await one(next++);
    } catch (error) {
      stopped = true;
      throw error;
    }
  };
  // Every worker is waited for, a failed one included: the caller removes the folder once this returns.
  const settled = await Promise.allSettled(Array.from({ length: Math.min(r.concurrency, r.count) }, worker));
  const broken = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (broken !== undefined) throw broken.reason;
  const seconds = (performance.now() - started) / 1000;
  return {
    count: r.count,
    initialised: counts.init,
    provisioned: counts.provision,
    associated: counts.associate,
    failed,
    failures,
    seconds: Math.round(seconds * 1000) / 1000,
    devicesPerSecond: Math.round((counts.associate / seconds) * 100) / 100,
    unreachable: unreachable > 0 && unreachable === failed && counts.init === 0,
  };
};
