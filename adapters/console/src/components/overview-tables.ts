import { html, nothing } from 'lit';
import { entityHref, streamHref } from '../router.ts';
import type { ExpiringRows, RevocationRows } from '../schemas.ts';
import { visibleText } from '../visible-text.ts';
import { formatTime, renderBehind } from './base.ts';

/** How far ahead the overview lists expiring credentials, and how far back revocations. */
export const EXPIRING_DAYS = 30;
export const REVOKED_DAYS = 30;

/** Whose credential it is: a node linked, and for an AE-ID or CSE-ID the App-ID or node it names, linked. */
const ownerCell = (owner: ExpiringRows['rows'][number]['owner']) => {
  const label = `${owner.kind}:${owner.id}`;
  if (owner.kind === 'node') return html`<a href=${entityHref('node', owner.id)}>${label}</a>`;
  if (owner.appId !== undefined) return html`${label} (App-ID <a href=${entityHref('application', owner.appId)}>${owner.appId}</a>)`;
  if (owner.nodeId !== undefined) return html`${label} (node <a href=${entityHref('node', owner.nodeId)}>${owner.nodeId}</a>)`;
  return label;
};

/** The overview's two lists: the credentials expiring first, and the latest revocations, each row linked. */
export const expiringTable = ({ rows, truncated, eventsBehind, eventsBehindAtLeast }: ExpiringRows) => {
  const behind = renderBehind(eventsBehind, 'this list', true, eventsBehindAtLeast);
  if (rows.length === 0) return html`${behind}<p class="empty">No live credential expires within ${EXPIRING_DAYS} days${eventsBehind > 0 ? ' as far as the read models know' : ''}.</p>`;
  const more = truncated
    ? html`<p class="warning" data-testid="expiring-truncated">The ${rows.length} that expire first are shown; more expire within ${EXPIRING_DAYS} days: run the <a href="#/compliance">expiring</a> query for all of them.</p>`
    : nothing;
  return html`${behind}${more}<div class="scroll"><table>
    <thead><tr><th scope="col">Credential</th><th scope="col">Owner</th><th scope="col">Not after</th><th scope="col">Status</th><th scope="col">Position</th></tr></thead>
    <tbody>
      ${rows.map(
        (r) => html`<tr>
          <td class="id"><a href=${entityHref('credential', r.credentialId)}>${r.credentialId}</a></td>
          <td class="id">${ownerCell(r.owner)}</td>
          <td>${formatTime(r.notAfter)}</td>
          <td>${r.status}</td>
          <td class="num">${r.position}</td>
        </tr>`,
      )}
    </tbody>
  </table></div>`;
}

export const revokedTable = ({ rows, truncated, eventsBehind, eventsBehindAtLeast }: RevocationRows) => {
  const behind = renderBehind(eventsBehind, 'this list', true, eventsBehindAtLeast);
  if (rows.length === 0) return html`${behind}<p class="empty">Nothing revoked in the last ${REVOKED_DAYS} days${eventsBehind > 0 ? ' as far as the read models know' : ''}.</p>`;
  const more = truncated
    ? html`<p class="meta" data-testid="revoked-truncated">The ${rows.length} most recent are shown; more were revoked in the last ${REVOKED_DAYS} days: run the <a href="#/compliance">revocations</a> query for all of them.</p>`
    : nothing;
  return html`${behind}${more}<div class="scroll"><table>
    <thead><tr><th scope="col">Entity</th><th scope="col">Reason</th><th scope="col">When</th><th scope="col">Actor</th><th scope="col">Position</th></tr></thead>
    <tbody>
      ${rows.map((r) => {
        const href = streamHref(r.streamId);
        return html`<tr>
          <td class="id">${href ? html`<a href=${href}>${r.streamId}</a>` : r.streamId}</td>
          <td>${visibleText(r.reason)}</td>
          <td>${formatTime(r.occurredAt)}</td>
          <td class="id">${visibleText(r.actor)}</td>
          <td class="num">${r.position}</td>
        </tr>`;
      })}
    </tbody>
  </table></div>`;
}
