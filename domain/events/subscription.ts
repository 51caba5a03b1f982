import { z } from 'zod';
import { Instant, M2MSubId } from '../ids.ts';

/** M2M Service Subscription (seed 003, 11.1): the contract nodes are enrolled under. */
export const SubscriptionCreated = z.object({
  subscriptionId: M2MSubId,
  subscriber: z.string().min(1).max(200),
  notBefore: Instant,
  notAfter: Instant,
});
export const SubscriptionExpired = z.object({ subscriptionId: M2MSubId });
export const SubscriptionTerminated = z.object({ subscriptionId: M2MSubId, reason: z.string().min(1).max(200) });

export const subscriptionEvents = {
  SubscriptionCreated,
  SubscriptionExpired,
  SubscriptionTerminated,
} as const;
