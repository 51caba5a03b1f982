import './zod-config.ts';
import './styles.css';
import { ComplianceQueries } from './components/compliance-queries.ts';
import { ConsoleApp } from './components/console-app.ts';
import { EntityView } from './components/entity-view.ts';
import { EventFeed } from './components/event-feed.ts';
import { EvidenceVerify } from './components/evidence-verify.ts';
import { FleetOverview } from './components/fleet-overview.ts';

/** The web audit console (issue 14): custom elements over API v1; see docs/console.md. */
customElements.define('fleet-overview', FleetOverview);
customElements.define('entity-view', EntityView);
customElements.define('evidence-verify', EvidenceVerify);
customElements.define('compliance-queries', ComplianceQueries);
customElements.define('event-feed', EventFeed);
customElements.define('credence-console', ConsoleApp);
