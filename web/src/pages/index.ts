import { calculatorPage } from './calculator.js';
import { chatPage } from './chat.js';
import { nodePage } from './node.js';
import type { Page } from './page.js';

/**
 * The dashboard's pages, in menu order. A page whose service the node does not run shows a notice instead;
 * the telemetry (Sensors) and files (Files) pages join this list when those services exist.
 */
export const PAGES: readonly Page[] = [nodePage, chatPage, calculatorPage];
