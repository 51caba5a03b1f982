import type { SubscriptionContext } from './contexts.ts';
import { dataOf } from './guards.ts';
import { instant, type RefusalReasons } from './refusal-reasons.ts';

/** What each subscription guard asks, and what it found, once it has refused (machines/refusal-reasons.ts). */
export const subscriptionRefusals: RefusalReasons<SubscriptionContext> = {
  validityWindowOrdered: ({ event }) => {
    const d = dataOf(event, 'SubscriptionCreated');
    return `a subscription's validity window opens before it closes (notBefore before notAfter); subscription ${d?.subscriptionId} has notBefore ${d?.notBefore} and notAfter ${d?.notAfter}`;
  },
  notAfterReached: ({ context, event }) =>
    `a subscription expires at or after its notAfter; subscription ${context.subscriptionId} has notAfter ${instant(context.notAfter)}, and this is ${instant(event.at)}`,
  terminatedBeforeItsEnd: ({ context, event }) =>
    `a subscription is terminated only before its notAfter; subscription ${context.subscriptionId} has notAfter ${instant(context.notAfter)}, and this is ${instant(event.at)}: it has run out, which its expiry records (credence subscription expire ${context.subscriptionId})`,
};
