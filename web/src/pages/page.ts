import type { Connection } from '../connection.js';

/**
 * A page of the dashboard. `service` names the service it needs: when the node does not run it, the page
 * says so instead of failing (telemetry and files pages plug in here the same way).
 */
export interface Page {
  readonly id: string;
  readonly title: string;
  readonly service?: string;
  /** Builds the page into `root`; returns what to run when it is left. */
  mount(root: HTMLElement, connection: Connection): () => void;
}
