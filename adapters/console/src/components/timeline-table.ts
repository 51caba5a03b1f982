import { html } from 'lit';
import { streamHref } from '../router.ts';
import type { TimelineEntry } from '../schemas.ts';
import { TIMELINE_PAGE, tooLongSays, type EntityTooLong } from '../timeline-pages.ts';
import { formatTime } from './base.ts';
import { visibleText } from '../visible-text.ts';

/**
 * A run of more than 40 characters with no space is no word of a sentence (a termination reason may hold 200,
 * a resolution reason 500): it may wrap anywhere (review 322: one made the entity page 2248 px wide at 1366 px).
 */
const LONG_RUN = /(\S{41,})/u;

/** A reason as visibleText writes it, each long run in a `.run` that wraps anywhere, its words of normal length whole. */
const reasonText = (reason: string) =>
  visibleText(reason)
    .split(LONG_RUN)
    .map((part, i) => (i % 2 === 1 ? html`<span class="run">${part}</span>` : part));

/**
 * The entries of an entity's timeline read so far: actor, the token its command came with, who issued it and with
 * which token (when issued through the service), reason, request-signature status, the event that caused it.
 */
export const renderEntries = (entries: readonly TimelineEntry[]) =>
  html`<div class="scroll"><table class="timeline">
    <caption class="visually-hidden">Timeline</caption>
    <thead><tr>
      <th scope="col">Rev.</th><th scope="col">Position</th><th scope="col">When</th><th scope="col">Event</th>
      <th scope="col">Actor</th><th scope="col">Token (issued by)</th><th scope="col">Reason</th><th scope="col">Signature</th><th scope="col">Caused by</th>
    </tr></thead>
    <tbody>
      ${entries.map((e) => {
        const cause = e.causedBy;
        const href = cause ? streamHref(cause.streamId) : undefined;
        return html`<tr>
          <td class="num">${e.revision}</td>
          <td class="num">${e.position}</td>
          <td>${formatTime(e.occurredAt)}</td>
          <td>${e.type}</td>
          <td class="id">${visibleText(e.actor.id)} <span class="role">${e.actor.role}</span></td>
          <td class="id">${e.token ? html`${visibleText(e.token.id)} <span class="role">(${visibleText(e.token.issuedBy)}${e.token.issuedWith !== undefined ? `, with ${visibleText(e.token.issuedWith)}` : ''})</span>` : ''}</td>
          <td>${reasonText(e.reason ?? '')}</td>
          <td><span class="sig sig-${e.signature.status}" title=${e.signature.keyFingerprint ?? ''}>${e.signature.status}</span></td>
          <td class="id">${cause ? html`${href ? html`<a href=${href}>${cause.streamId}</a>` : cause.streamId} ${cause.type} @${cause.position}` : ''}</td>
        </tr>`;
      })}
    </tbody>
  </table></div>`;

/**
 * In place of the entity's state when the server refused to rebuild it (422 `entity_too_long`): what it said (the
 * stream, its length in events or records, the bound), what is not shown, and that the timeline still is, page by page.
 */
export const renderTooLong = (refusal: EntityTooLong) =>
  html`<div class="warning" role="status" data-testid="entity-too-long">
    <p><strong>Too long to show whole.</strong> ${tooLongSays(refusal)} (422 entity_too_long): its current state, its
      state at an instant and its evidence bundle are not shown.</p>
    <p>Its timeline is still browsable below, page by page (${TIMELINE_PAGE} events at a time).</p>
  </div>`;
