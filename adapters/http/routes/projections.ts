import { z } from 'zod';
import { ACCESS } from '../auth/roles.ts';
import type { RouteModule } from '../context.ts';
import { DecimalString } from './wire.ts';

const ComponentStatus = z
  .object({
    name: z.string(),
    checkpoint: DecimalString.optional().describe('last global position handled; absent before the first'),
    head: DecimalString.optional().describe("the store's head position"),
    eventsBehind: z.number().int().nonnegative(),
    secondsBehind: z.number().nonnegative(),
    error: z.string().optional().describe('the error the component is retrying past'),
  })
  .meta({ id: 'ComponentStatus' });

export const projectionRoutes: RouteModule = (app, context) => {
  app.get('/v1/projections', {
    config: { access: ACCESS.read },
    schema: {
      summary: 'Live components: status and lag',
      description:
        'Every component that follows the store (the cascade process manager, the expiry schedule, the read models, pseudonym rotation, ' +
        'the transparency log): the last position it handled, how far behind the head it is (events and seconds), and the error it is ' +
        'retrying past, if any. `lag` is the largest over all.',
      tags: ['projections'],
      response: {
        200: z.object({
          components: z.array(ComponentStatus),
          lag: z.object({ eventsBehind: z.number().int().nonnegative(), secondsBehind: z.number().nonnegative() }),
        }),
      },
    },
    handler: async () => {
      const components = await context.live.status();
      return {
        // Absent rather than undefined-valued, so the document has exactly the schema's fields.
        components: components.map((c) => Object.fromEntries(Object.entries(c).filter(([, v]) => v !== undefined)) as z.infer<typeof ComponentStatus>),
        lag: context.live.lag(),
      };
    },
  });
};
