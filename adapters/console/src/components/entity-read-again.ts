import { html, nothing } from 'lit';
import { describeError, entityPath, furthestBehind, NOT_BEHIND, worthRetrying, type Behind } from '../api.ts';
import { loadDependencies, type DependencyGraph } from '../dependencies.ts';
import { waitText } from '../retry-after.ts';
import { Entity } from '../schemas.ts';
import { renderRetry, type Load } from './base.ts';
import { readTimelineAgain, type TimelineView } from './entity-timeline.ts';

/** The parts of an entity's page whose read again failed, each with why: they are shown as read before. */
export type Stale = Readonly<Partial<Record<'timeline' | 'graph', unknown>>>;

/** What a read again of an entity's timeline and graph uses of the entity view (entity-view.ts), and what it sets. */
export interface BehindView extends TimelineView {
  graph: Load<DependencyGraph>;
  /** Events the read models behind the timeline and the graph had not handled when they were read (0: none), or more. */
  behind: Behind;
  stale: Stale;
}

/** What depends on the entity (its state and context say which dependents to ask for). */
export const readGraph = (view: Pick<BehindView, 'api'>, kind: string, id: string, entity: Pick<Entity, 'state' | 'context'>, signal: AbortSignal): Promise<DependencyGraph> =>
  loadDependencies(view.api, { kind, id, state: entity.state, context: entity.context }, signal);

/**
 * Reads the timeline's end and the graph again, read from read models behind the store; returns the failures. The
 * warning (`behind`) stays until both are read (review 248: it was cleared before the read, so a failed one took it
 * away while the lagging timeline stayed); a failed read leaves what was shown, marked as last read and why (`stale`),
 * as the overview does, and what was never read shows its error.
 */
export const readTimelineAndGraphAgain = async (
  view: BehindView,
  kind: string,
  id: string,
  entity: Pick<Entity, 'state' | 'context'>,
  signal: AbortSignal,
): Promise<readonly unknown[]> => {
  const failed: Partial<Record<'timeline' | 'graph', unknown>> = {};
  let behind = NOT_BEHIND;
  await Promise.all([
    readTimelineAgain(view, kind, id, signal).then(
      (timelineBehind) => void (behind = furthestBehind(behind, timelineBehind)),
      (error: unknown) => void (failed.timeline = error),
    ),
    readGraph(view, kind, id, entity, signal).then(
      (graph) => {
        if (signal.aborted) return;
        view.graph = { state: 'ok', value: graph };
        behind = furthestBehind(behind, graph);
      },
      (error: unknown) => {
        failed.graph = error;
        if (!signal.aborted && view.graph.state !== 'ok') view.graph = { state: 'error', error };
      },
    ),
  ]);
  if (signal.aborted) return [];
  const failures = Object.values(failed);
  view.behind = failures.length === 0 ? behind : furthestBehind(view.behind, behind);
  view.stale = {
    ...(failed.timeline !== undefined && view.timeline.state === 'ok' ? { timeline: failed.timeline } : {}),
    ...(failed.graph !== undefined && view.graph.state === 'ok' ? { graph: failed.graph } : {}),
  };
  return failures;
};

/**
 * Reads the entity again, with the timeline's end, after the entity's read failed beside a timeline read from read
 * models behind the store (review 254: the page said it was read again and nothing was). Returns the entity or why it
 * was refused, and how far behind the timeline's read model still was; a timeline that could not be read again stays
 * shown as read, marked as such (`stale`), and as far behind as it was.
 */
export const readEntityAndTimelineAgain = async (
  view: BehindView,
  kind: string,
  id: string,
  signal: AbortSignal,
): Promise<{ readonly entity?: Entity; readonly refused?: unknown; readonly timelineBehind: Behind }> => {
  let refused: unknown;
  let timelineFailure: unknown;
  let timelineBehind = view.behind;
  const [entity] = await Promise.all([
    view.api.json(entityPath(kind, id), Entity, signal).catch((error: unknown) => void (refused = error)),
    readTimelineAgain(view, kind, id, signal).then(
      (behind) => void (timelineBehind = behind),
      (error: unknown) => void (timelineFailure = error),
    ),
  ]);
  if (!signal.aborted) view.stale = timelineFailure !== undefined && view.timeline.state === 'ok' ? { timeline: timelineFailure } : {};
  return entity !== undefined ? { entity, timelineBehind } : { refused, timelineBehind };
};

/**
 * Above a timeline or graph whose read again failed: shown as last read, why, when the page reads again (`againInMs`),
 * and Retry (`retry`) with the server's wait.
 */
export const renderStale = (stale: Stale, againInMs: number | undefined, retry: () => void) => {
  const parts = ([['timeline', 'the timeline'], ['graph', 'what depends on it']] as const).filter(([part]) => part in stale);
  if (parts.length === 0) return nothing;
  const errors = parts.map(([part]) => stale[part]);
  return html`<p class="warning" role="status" data-testid="entity-stale">
    ${parts.map(([part, what]) => `Could not read ${what} again (${describeError(stale[part])}): shown as last read. `)}
    ${againInMs !== undefined ? `It is read again in ${waitText(againInMs)}.` : ''}
    ${renderRetry(errors.find(worthRetrying) ?? errors[0], retry)}</p>`;
};
