import { calculatorPage } from './calculator.js';
import { chatPage } from './chat.js';
import { clusterPage } from './cluster.js';
import { filesPage } from './files.js';
import { nodePage } from './node.js';
import type { Page } from './page.js';
import { sensorsPage } from './sensors.js';

/** The dashboard's pages, in menu order. A page whose service the node does not run shows a notice instead. */
export const PAGES: readonly Page[] = [
  nodePage,
  clusterPage,
  sensorsPage,
  filesPage,
  chatPage,
  calculatorPage,
];
