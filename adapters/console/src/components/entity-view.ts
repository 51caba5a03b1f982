import { html, nothing, type PropertyValues } from 'lit';
import { ApiError, describeError, entityPath, furthestBehind, NOT_BEHIND, worthRetrying, type Behind } from '../api.ts';
import type { DependencyGraph } from '../dependencies.ts';
import { verifyHref } from '../router.ts';
import { Entity, StateAt } from '../schemas.ts';
import { ConsolePage, formatTime, IDLE, LOADING, renderBehind, renderLoad, type Load } from './base.ts';
import { EntityFollow, shownStreams, touches } from './entity-follow.ts';
import { renderGraph } from './entity-graph.ts';
import { readEntityAndTimelineAgain, readGraph, readTimelineAndGraphAgain, renderStale, type Stale } from './entity-read-again.ts';
import { readFirstPage, readPage, renderTimeline, shownPages, type PageRead } from './entity-timeline.ts';
import type { EntityList } from './entity-list.ts';
import { EntityListBrowse, pagesOf } from './entity-list-browse.ts';
import { renderPicker } from './entity-picker.ts';
import { askedWaitMs } from '../asked-wait.ts';
import { ReadAgainWhileBehind } from '../read-again.ts';
import { visibleText } from '../visible-text.ts';
import { badge } from './state-badge.ts';
import { StateAtInstant } from './state-at-instant.ts';
import { instants, sliderRange } from './slider-range.ts';
import { entityTooLong, type TimelinePages } from '../timeline-pages.ts';
import { renderTooLong } from './timeline-table.ts';

/** One entity: its timeline, its state at any instant (time slider), and what depends on it. Without an id: a list to pick from (entity-list-browse.ts). */
export class EntityView extends ConsolePage {
  static override properties = {
    ...ConsolePage.properties,
    kind: { attribute: false },
    entityId: { attribute: false },
    listPages: { attribute: false },
    cursorRefused: { state: true },
    entity: { state: true },
    timeline: { state: true },
    nextPage: { state: true },
    graph: { state: true },
    browse: { state: true },
    behind: { state: true },
    stale: { state: true },
    listFailure: { state: true },
    listReading: { state: true },
    againInMs: { state: true },
    refusal: { state: true },
  };
  declare kind: string;
  declare entityId: string | undefined;
  /** The list's page in the address (router.ts): the cursors of the pages before it and its own, joined with dots. */
  declare listPages: string;
  /** Why the server refused the page the address named: page 1 is shown instead, with this. */
  declare cursorRefused: unknown;
  declare entity: Load<Entity>;
  /** The pages of the timeline read so far (timeline-pages.ts): it is never read whole. */
  declare timeline: Load<TimelinePages>;
  declare nextPage: PageRead;
  declare graph: Load<DependencyGraph>;
  declare browse: Load<EntityList>;
  /**
   * Events the read models behind the timeline and the graph (or the list) had not handled when they were read (0:
   * none), or more (review 428); kept until a read again succeeds (review 248: cleared before it, a failed one took the
   * warning away).
   */
  declare behind: Behind;
  /** Why the last read again of the timeline or the graph, still shown as read before, failed. */
  declare stale: Stale;
  /** Why the last read of the list failed while a page read before is still shown (review 248: it replaced the page). */
  declare listFailure: unknown;
  /** A page of the list asked for by the user (Next, Previous, Retry) is being read. */
  declare listReading: boolean;
  /** When the page reads again by itself (read models behind, or a failure worth another try); undefined: it does not. */
  declare againInMs: number | undefined;
  /** Why the id typed into the picker opened nothing (entity-picker.ts). */
  declare refusal: string | undefined;
  private abort = new AbortController();
  private readonly readAgain = new ReadAgainWhileBehind();
  /** The entity the graph of what depends on it was read for (its state, or none when too long): read again with it. */
  private graphRoot: Pick<Entity, 'state' | 'context'> | undefined;
  /** The time slider and the state at the instant it is at. */
  private readonly slider = new StateAtInstant(this, {
    read: (at, signal) =>
      this.entityId === undefined
        ? undefined
        : this.api.json(`${entityPath(this.kind, this.entityId)}/state?at=${encodeURIComponent(new Date(at).toISOString())}`, StateAt, signal),
    signal: () => this.abort.signal,
  });
  /** The list's pages read, without an id. */
  private readonly list = new EntityListBrowse(this, { readAgain: this.readAgain, signal: () => this.abort.signal });
  /** The page's signal while a read again of its timeline and graph is under way: one at a time. */
  private readingAgain: AbortSignal | undefined;
  /** The event stream, which reads the page again when the entity or a dependent shown changes (review 300). */
  private readonly follow = new EntityFollow({
    api: () => this.api,
    touches: (event) => this.entityId !== undefined && touches(event, shownStreams(this.kind, this.entityId, this.graph), this.entityId),
    readAgain: (changed) => this.readOnChange(changed),
    changed: () => this.requestUpdate(),
  });

  constructor() {
    super();
    this.kind = 'node';
    this.entityId = undefined;
    this.listPages = '';
    this.cursorRefused = undefined;
    this.entity = IDLE;
    this.timeline = IDLE;
    this.nextPage = IDLE;
    this.graph = IDLE;
    this.browse = IDLE;
    this.behind = NOT_BEHIND;
    this.stale = {};
    this.listFailure = undefined;
    this.listReading = false;
    this.againInMs = undefined;
    this.refusal = undefined;
  }

  override disconnectedCallback(): void {
    this.abort.abort();
    this.follow.stop();
    this.readAgain.reset();
    super.disconnectedCallback();
  }

  protected override willUpdate(changed: PropertyValues<this>): void {
    if (changed.has('kind') || changed.has('entityId')) {
      this.abort.abort();
      this.abort = new AbortController();
      this.follow.stop();
      // A read again of the page left (its kind, its cursor) must not land on this one (found in review).
      this.readAgain.reset();
      this.refusal = undefined;
      // Another kind's page must not stay shown as this one's "last read".
      this.browse = LOADING;
      this.behind = NOT_BEHIND;
      this.listFailure = undefined;
      this.againInMs = undefined;
      this.cursorRefused = undefined;
      if (this.entityId === undefined) void this.list.load(pagesOf(this.listPages));
      else void this.load(this.kind, this.entityId);
    } else if (changed.has('listPages') && this.entityId === undefined && this.listPages !== this.list.asked) {
      // Back, Forward, or an address typed: the page it names (one read from the list's own pager names it already).
      void this.list.load(pagesOf(this.listPages));
    }
  }

  private async settle<T>(promise: Promise<T>, set: (load: Load<T>) => void): Promise<T | undefined> {
    const signal = this.abort.signal;
    try {
      const value = await promise;
      if (!signal.aborted) set({ state: 'ok', value });
      return value;
    } catch (error) {
      if (!signal.aborted) set({ state: 'error', error });
      return undefined;
    }
  }

  private async load(kind: string, id: string): Promise<void> {
    const signal = this.abort.signal;
    this.slider.forget();
    this.entity = LOADING;
    this.timeline = LOADING;
    this.nextPage = IDLE;
    this.graph = IDLE;
    this.behind = NOT_BEHIND;
    this.stale = {};
    this.againInMs = undefined;
    this.graphRoot = undefined;
    this.readingAgain = undefined;
    this.readAgain.reset();
    let refused: unknown;
    const [entity, timelineBehind] = await Promise.all([
      this.settle(
        this.api.json(entityPath(kind, id), Entity, signal).catch((error: unknown) => {
          refused = error;
          throw error;
        }),
        (l) => (this.entity = l),
      ),
      readFirstPage(this, kind, id, signal),
    ]);
    if (signal.aborted) return;
    if (entity !== undefined) this.follow.read();
    // As the overview decides (review 113): no stream for a role the server refused what the page shows (an
    // integrator); any other follows, and the server's refusal of the stream (an admin) says "as read at".
    // Set by readFirstPage meanwhile: TypeScript still sees the LOADING assigned above.
    const timeline = this.timeline as Load<TimelinePages>;
    const timelineRefused = timeline.state === 'error' && isRefused(timeline.error);
    if (!this.follow.following && !(isRefused(refused) && timelineRefused)) this.follow.start();
    await this.readDependents(kind, id, entity, refused, timelineBehind, signal);
  }

  /**
   * After an event of the entity or of a dependent shown: the entity, its timeline's end and its dependents read again,
   * what is shown kept until each is read (a failed timeline or graph marked as last read, as a read again while
   * behind does), or, `changed` false, after the stream went live (what was appended while it was not). Returns whether
   * the entity was read; throws why it was not, the page then "as read" before.
   */
  private async readOnChange(changed: boolean): Promise<boolean> {
    const id = this.entityId;
    const kind = this.kind;
    const signal = this.abort.signal;
    if (id === undefined || signal.aborted) return false;
    // An entity not read is read as on opening once an event of it came (one that did not exist may have been made),
    // not because the stream went live: its failure says whether it is read again by itself.
    if (this.entity.state !== 'ok') {
      if (!changed) return false;
      await this.readEntityAgain(kind, id, signal);
      // Set by readEntityAgain: TypeScript still sees the state tested above.
      return (this.entity as Load<Entity>).state === 'ok';
    }
    const before = this.entity.value;
    const lastBefore = sliderRange(instants(shownPages(this)?.entries ?? [], before.updatedAt)).max;
    this.readingAgain = signal;
    try {
      let entity: Entity;
      try {
        entity = await this.api.json(entityPath(kind, id), Entity, signal);
      } catch (error) {
        // Grown past the bound the server rebuilds: said in place of its state, as on opening.
        if (!signal.aborted && entityTooLong(error) !== undefined) this.entity = { state: 'error', error };
        throw error;
      }
      if (signal.aborted) return false;
      // Read because the stream went live: an unchanged entity leaves its timeline as shown, and its dependents are not
      // read again for the moment before the stream was live (a read of them racing a page of the timeline loaded
      // meanwhile set the page's warning back to the older read's: found by test/console-pages-a-long-timeline).
      if (!changed && entity.revision === before.revision && entity.position === before.position) return true;
      this.entity = { state: 'ok', value: entity };
      this.graphRoot = entity;
      const failures = await readTimelineAndGraphAgain(this, kind, id, entity, signal);
      if (signal.aborted) return false;
      // The slider left at the last change follows a new one; one the user moved (even meanwhile) stays where it is.
      const moved = entity.revision !== before.revision || entity.updatedAt !== before.updatedAt;
      if (moved && (this.slider.at === undefined || this.slider.at === lastBefore)) this.slider.moveToLast(shownPages(this)?.entries ?? [], entity.updatedAt);
      this.readAgainWhileBehind(kind, id, entity, signal, failures);
      return true;
    } finally {
      if (this.readingAgain === signal) this.readingAgain = undefined;
    }
  }

  /**
   * Once the entity is read, or refused (`refused`): the slider at its last change, what depends on it, and reads again
   * while behind. An entity too long to rebuild in one request (422 entity_too_long) has no state to show, but its
   * timeline pages and what depends on it are read all the same.
   */
  private async readDependents(kind: string, id: string, entity: Entity | undefined, refused: unknown, timelineBehind: Behind, signal: AbortSignal): Promise<void> {
    if (entity === undefined && entityTooLong(refused) === undefined) {
      this.behind = timelineBehind;
      // Review 254: beside a timeline read behind, the page said it was read again shortly and nothing was. The entity
      // is read again with the timeline's end, after the server's wait or the backoff, while another try may mend it.
      if (timelineBehind.eventsBehind > 0 && worthRetrying(refused)) {
        this.againInMs = this.readAgain.after(true, () => void this.readEntityAgain(kind, id, signal), askedWaitMs([refused]));
      } else {
        this.readAgain.reset();
        this.againInMs = undefined;
      }
      return;
    }
    const shown = shownPages(this)?.entries ?? [];
    if (entity !== undefined && shown.length > 0) this.slider.moveToLast(shown, entity.updatedAt);
    const root = entity ?? { state: '', context: {} };
    this.graphRoot = root;
    this.graph = LOADING;
    const graph = await this.settle(readGraph(this, kind, id, root, signal), (l) => (this.graph = l));
    if (signal.aborted) return;
    this.behind = furthestBehind(timelineBehind, graph ?? NOT_BEHIND);
    this.readAgainWhileBehind(kind, id, root, signal);
  }

  /** The entity read again with the timeline's end (one read again at a time); read, the page goes on as on opening. */
  private async readEntityAgain(kind: string, id: string, signal: AbortSignal): Promise<void> {
    if (signal.aborted || this.readingAgain === signal) return;
    this.readingAgain = signal;
    const { entity, refused, timelineBehind } = await readEntityAndTimelineAgain(this, kind, id, signal);
    if (this.readingAgain === signal) this.readingAgain = undefined;
    if (signal.aborted) return;
    this.entity = entity !== undefined ? { state: 'ok', value: entity } : { state: 'error', error: refused };
    await this.readDependents(kind, id, entity, refused, timelineBehind, signal);
  }

  /** Retry, offered by a failed read worth another try: the whole page read again, as on opening it. */
  private retry(id: string): void {
    this.abort.abort();
    this.abort = new AbortController();
    void this.load(this.kind, id);
  }

  /** "Load more events": the next page, one read at a time; a failure is shown below the entries already shown. */
  private async loadMore(): Promise<void> {
    const id = this.entityId;
    if (id === undefined || this.nextPage.state === 'loading') return;
    const signal = this.abort.signal;
    const focused = document.activeElement;
    this.nextPage = LOADING;
    try {
      const behind = await readPage(this, this.kind, id, signal);
      if (signal.aborted) return;
      this.nextPage = IDLE;
      // The last page read, the button goes with the keyboard's focus in it: focus goes to the line that says what is
      // shown now, not to <body> (review 300).
      void this.updateComplete.then(() => {
        if (focused instanceof HTMLElement && !focused.isConnected && (document.activeElement === document.body || document.activeElement === null)) {
          this.querySelector<HTMLElement>('[data-testid="timeline-shown"]')?.focus();
        }
      });
      this.behind = furthestBehind(this.behind, behind);
      // A page read while the read model was behind is read again as the first was (found in review: the notice said
      // so, but nothing read it again once the first load's rounds had ended).
      if (this.graphRoot !== undefined) this.readAgainWhileBehind(this.kind, id, this.graphRoot, signal);
    } catch (error) {
      if (!signal.aborted) this.nextPage = { state: 'error', error };
    }
  }

  /**
   * A timeline or graph read from read models behind the store may miss the latest events (a revocation): they are
   * read again until the read models have caught up, the slider left where the user put it; after a read again that
   * failed in a way a later try may not, after the server's wait or the backoff, whichever is longer (`failures`).
   */
  private readAgainWhileBehind(kind: string, id: string, entity: Pick<Entity, 'state' | 'context'>, signal: AbortSignal, failures: readonly unknown[] = []): void {
    if (signal.aborted) return;
    if (failures.length > 0 && !failures.some(worthRetrying)) {
      this.readAgain.reset();
      this.againInMs = undefined;
      return;
    }
    this.againInMs = this.readAgain.after(this.behind.eventsBehind > 0, () => void this.readBehindAgain(kind, id, entity, signal), askedWaitMs(failures));
  }

  /** One read again of the timeline's end and the graph at a time (entity-read-again.ts), then the next scheduled. */
  private async readBehindAgain(kind: string, id: string, entity: Pick<Entity, 'state' | 'context'>, signal: AbortSignal): Promise<void> {
    if (signal.aborted || this.readingAgain === signal) return;
    this.readingAgain = signal;
    const failures = await readTimelineAndGraphAgain(this, kind, id, entity, signal);
    if (this.readingAgain === signal) this.readingAgain = undefined;
    this.readAgainWhileBehind(kind, id, entity, signal, failures);
  }

  /** Retry, offered by a failed read again: now, rather than after the wait. */
  private readBehindNow(): void {
    if (this.entityId === undefined) return;
    // No graph was read while the entity could not be: the entity is read again with the timeline's end.
    if (this.graphRoot === undefined) void this.readEntityAgain(this.kind, this.entityId, this.abort.signal);
    else void this.readBehindAgain(this.kind, this.entityId, this.graphRoot, this.abort.signal);
  }

  /**
   * What depends on the entity, read once the entity is (its state and context say which dependents to ask for). An
   * entity that could not be read leaves it unread, and the section says so: blank, it read as "nothing depends on it"
   * (review 223).
   */
  private renderDependents(name: string, tooLong: boolean, retry: () => void) {
    if (this.entity.state === 'error' && !tooLong) {
      return html`<p class="warning" role="status" data-testid="graph-not-read">Not read: ${name} itself could not be read (${describeError(this.entity.error)}), so what depends on it is not known.</p>`;
    }
    return renderLoad(this.graph, this.session.role, 'the dependency graph', (graph) => renderGraph(graph, name), retry);
  }

  override render() {
    const role = this.session.role;
    const id = this.entityId;
    if (id === undefined) return this.list.render(role, renderPicker(role, this.kind, id, this.refusal, (refusal) => (this.refusal = refusal)));
    const tooLong = this.entity.state === 'error' ? entityTooLong(this.entity.error) : undefined;
    return html`<h2 tabindex="-1">${this.kind}-${id}</h2>
      ${renderPicker(role, this.kind, id, this.refusal, (refusal) => (this.refusal = refusal))}
      ${tooLong !== undefined
        ? renderTooLong(tooLong)
        : renderLoad(
            this.entity,
            role,
            `${this.kind}-${id}`,
            (e) => html`<p class="entity-head" data-following=${this.follow.following ? (this.follow.status?.state ?? 'connecting') : 'none'}>${this.follow.renderWhen()} ${badge(e.state)} at revision ${e.revision}${e.position !== undefined ? ` (position ${e.position}), last changed ${formatTime(e.updatedAt)}` : ''}.
              <a class="button-link" href=${verifyHref(e.kind, e.id)}>Verify its evidence bundle in this browser</a>
              ${this.follow.renderNotFollowed(() => void this.follow.readNow())}</p>
              ${e.broken !== undefined ? renderBroken(e.broken) : nothing}`,
            () => this.retry(id),
          )}
      ${this.timeline.state === 'ok' && this.entity.state === 'ok' ? this.slider.render(this.timeline.value.entries, this.entity.value.updatedAt, role) : nothing}
      ${renderBehind(this.behind.eventsBehind, 'the timeline and what depends on it', this.againInMs !== undefined, this.behind.eventsBehindAtLeast)}
      ${renderStale(this.stale, this.againInMs, () => this.readBehindNow())}
      <div class="columns wide-left">
        <section aria-labelledby="timeline-heading">
          <h3 id="timeline-heading">Timeline</h3>
          ${renderLoad(this.timeline, role, 'the timeline', (pages) => renderTimeline(pages, this.nextPage, role, () => void this.loadMore()), () => this.retry(id))}
        </section>
        <section aria-labelledby="graph-heading">
          <h3 id="graph-heading">What depends on it</h3>
          ${this.renderDependents(`${this.kind}-${id}`, tooLong !== undefined, () => this.retry(id))}
        </section>
      </div>`;
  }
}

/**
 * What the entity page says of a stored event its replay refuses, worded as `credence history` and the overview word
 * it (review 325: "Broken history" in red for a finding by a rule newer than the stored event, which the CLI and the
 * overview call no broken history): findings by a newer rule, and those following from them, in amber; any other
 * finding is a broken history, in red, as before.
 */
const renderBroken = (broken: NonNullable<Entity['broken']>) => {
  const where = `its machine refuses the stored event${broken.position !== undefined ? ` at position ${broken.position}` : ''} (${visibleText(broken.reason)})`;
  const after = 'The state shown is what its accepted events leave; its timeline is what was recorded.';
  const total = broken.findingsTotal ?? 1;
  const newer = broken.findingsByNewerRules ?? 0;
  const following = broken.findingsFollowingNewerRules ?? 0;
  if (newer === 0) return html`<p class="bad" role="alert" data-testid="entity-broken">Broken history: ${where}. ${after}</p>`;
  const note = `${newer} of the ${total} findings are by rules newer than the stored events${following > 0 ? ` and ${following} follow from them` : ''}: see Upgrading in docs/service.md`;
  if (total - newer - following <= 0) {
    return html`<p class="newer" role="status" data-testid="entity-newer-rules">By a rule newer than the stored event, not a broken history: ${where}; ${note}. ${after}</p>`;
  }
  return html`<p class="bad" role="alert" data-testid="entity-broken">Broken history: ${where}. <span class="newer" data-testid="entity-newer-rules">${note}.</span> ${after}</p>`;
};

/** A refusal of the role (403): no retry or other read changes it. */
const isRefused = (error: unknown): boolean => error instanceof ApiError && error.refused;
