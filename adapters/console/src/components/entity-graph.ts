import { html, nothing } from 'lit';
import type { DependencyGraph, GraphNode } from '../dependencies.ts';
import { entityHref, streamHref } from '../router.ts';
import { badge } from './state-badge.ts';
import { visibleText } from '../visible-text.ts';

/** What depends on an entity (`of`: the entity, as kind-id), as a tree of links; the cascade that ended each, if any. */
export const renderGraph = (graph: DependencyGraph, of: string) =>
  html`<ul class="graph" data-testid="graph">${renderNode(graph.root, of)}</ul>
      ${graph.root.children.length === 0 ? html`<p class="empty">Nothing depends on it.</p>` : nothing}
      ${graph.truncated ? html`<p class="meta" data-testid="graph-truncated">More than ${graph.limit} entities depend on it: only the first ${graph.limit} are shown.</p>` : nothing}`;

const renderNode = (node: GraphNode, of: string): ReturnType<typeof html> => {
  const { entity, revocation } = node;
  const cause = revocation?.causedBy;
  const ended = revocation?.type.endsWith('Revoked') === true ? 'revoked' : 'ended';
  // The reason it ended with, which the cascade carried on, and the one it was raised to since (what OCSP and the CRL say).
  const raised = revocation?.raised;
  return html`<li>
      <span class="relation">${node.relation}</span>
      <a href=${entityHref(entity.kind, entity.id)}>${entity.kind}-${entity.id}</a> ${entity.state !== undefined ? badge(entity.state) : nothing}
      ${revocation
        ? html`<span class="cascade" title=${node.cascade === true ? `ended by the cascade of ${of}` : ''}>${visibleText(revocation.reason ?? '')}${raised
            ? html`<span class="raised" data-testid="raised">, raised to ${visibleText(raised.reason)} @${raised.position}</span>`
            : nothing}${cause
            ? html` — cascade from <a href=${streamHref(cause.streamId) ?? '#'}>${cause.streamId}</a> ${cause.type} @${cause.position}`
            : html` — ${ended} directly (${revocation.type}) @${revocation.position}`}</span>`
        : nothing}
      ${node.children.length > 0 ? html`<ul>${node.children.map((c) => renderNode(c, of))}</ul>` : nothing}
    </li>`;
};
