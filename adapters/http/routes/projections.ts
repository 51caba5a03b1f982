import { z } from 'zod';
import { deadLetterCount, deadLetters } from '../../../projections/cascade/index.ts';
import { expiryDeadLetterCount, expiryDeadLetters } from '../../../projections/expiry/index.ts';
import { ACCESS } from '../auth/roles.ts';
import type { RouteModule } from '../context.ts';
import type { ComponentStatus as LiveComponent } from '../../runtime/live-runtime.ts';
import { LAG_COUNT_LIMIT } from '../../runtime/live-lag.ts';
import { DecimalString } from './wire.ts';

/** Review 398: a count at its limit was answered as the exact lag. */
const EventsBehindAtLeast = z
  .literal(true)
  .optional()
  .describe(`present when the count stopped at its limit (${LAG_COUNT_LIMIT}): \`eventsBehind\` is then the least the lag is`);

const ComponentStatus = z
  .object({
    name: z.string(),
    checkpoint: DecimalString.optional().describe('last global position handled; absent before the first'),
    head: DecimalString.optional().describe("the store's head position"),
    eventsBehind: z.number().int().nonnegative().describe(`events to handle, counted up to ${LAG_COUNT_LIMIT}`),
    eventsBehindAtLeast: EventsBehindAtLeast,
    secondsBehind: z.number().nonnegative(),
    error: z.string().optional().describe('the error the component is retrying past'),
  })
  .meta({ id: 'ComponentStatus' });

const CascadeDeadLetter = z
  .object({
    stream: z.string().describe('the stream the reaction targets, or whose history a lookup could not read'),
    command: z.string().describe("the reaction's command type; `(lookup)` when the reactions to the event could not be worked out"),
    target: z.string(),
    eventType: z.string().describe('the event reacted to'),
    position: DecimalString.describe('its global position'),
    occurredAt: z.string().describe('when it occurred'),
    reason: z.string().describe('why the reaction was not carried out'),
  })
  .meta({ id: 'CascadeDeadLetter' });

const ExpiryDeadLetter = z
  .object({
    stream: z.string().describe('the stream of the entity to end by hand'),
    purpose: z.enum(['expiry', 'rotation']).describe("the deadline's: the entity's own expiry, or a rotation's overlap end"),
    command: z.string().describe('the command type the deadline would have issued'),
    due: z.string().describe('when it was due (ISO 8601)'),
    code: z.string().describe('why, typed: `command_id_taken`'),
    reason: z.string().describe('why the command can never be recorded'),
  })
  .meta({ id: 'ExpiryDeadLetter' });

/** Dead letters of each kind listed at most: the rest are counted (`cascadeDeadLettersTotal`, `expiryDeadLettersTotal`). */
const DEAD_LETTERS_LISTED = 100;

export const projectionRoutes: RouteModule = (app, context) => {
  app.get('/v1/projections', {
    config: { access: ACCESS.read },
    schema: {
      summary: 'Live components: status and lag',
      description:
        'Every component that follows the store (the cascade process manager, the expiry schedule, the read models, pseudonym rotation, ' +
        'the transparency log): the last position it handled, how far behind the head it is (events and seconds), and the error it is ' +
        `retrying past, if any. \`lag\` is the largest over all. Events are counted up to ${LAG_COUNT_LIMIT}: a count that reached it ` +
        'carries `eventsBehindAtLeast: true` (on `lag` too when it is the largest), the lag being at least that. ' +
        '`cascadeDeadLetters`: the reactions the revocation cascade could not carry out and retries never, in log order (the first 100; `cascadeDeadLettersTotal` counts them all, as `credence_cascade_dead_letters` ' +
        'does). One goes when its stream ends: carried out by hand. `expiryDeadLetters`: the due deadlines the expiry scheduler could not ' +
        'carry out and retries never, longest overdue first (the first 100; `expiryDeadLettersTotal` counts them all, as ' +
        '`credence_expiry_dead_letters` does): the entity is not ended, and its letters go when it is ended by hand.',
      tags: ['projections'],
      response: {
        200: z.object({
          components: z.array(ComponentStatus),
          lag: z.object({ eventsBehind: z.number().int().nonnegative(), eventsBehindAtLeast: EventsBehindAtLeast, secondsBehind: z.number().nonnegative() }),
          cascadeDeadLetters: z.array(CascadeDeadLetter).max(DEAD_LETTERS_LISTED),
          cascadeDeadLettersTotal: z.number().int().nonnegative(),
          expiryDeadLetters: z.array(ExpiryDeadLetter).max(DEAD_LETTERS_LISTED),
          expiryDeadLettersTotal: z.number().int().nonnegative(),
        }),
      },
    },
    handler: async () => {
      const components: readonly LiveComponent[] = await context.live.status();
      const lag = context.live.lag();
      // The largest is at least that many when any component's count stopped at its limit: that one may be the largest.
      const atLeast = components.some((c) => c.eventsBehindAtLeast === true);
      return {
        // Absent rather than undefined-valued, so the document has exactly the schema's fields.
        components: components.map((c) => Object.fromEntries(Object.entries(c).filter(([, v]) => v !== undefined)) as z.infer<typeof ComponentStatus>),
        lag: { eventsBehind: lag.eventsBehind, ...(atLeast ? { eventsBehindAtLeast: true as const } : {}), secondsBehind: lag.secondsBehind },
        cascadeDeadLetters: deadLetters(context.credence.readModels, DEAD_LETTERS_LISTED).map((d) => ({
          stream: d.stream, command: d.command, target: d.target, eventType: d.eventType, position: String(d.position), occurredAt: d.occurredAt, reason: d.reason,
        })),
        cascadeDeadLettersTotal: deadLetterCount(context.credence.readModels),
        // No command id: the reason names it, and an operator ends the entity under a command of their own.
        expiryDeadLetters: expiryDeadLetters(context.credence.readModels, DEAD_LETTERS_LISTED).map((d) => ({
          stream: d.stream, purpose: d.purpose, command: d.command, due: new Date(d.due).toISOString(), code: d.code, reason: d.reason,
        })),
        expiryDeadLettersTotal: expiryDeadLetterCount(context.credence.readModels),
      };
    },
  });
};
