/**
 * CSV (RFC 4180) for exports that people open in spreadsheets. Numbers are written as they are; text that a
 * spreadsheet would run as a formula (a cell starting with `=`, `+`, `-`, `@`, tab or carriage return: "CSV
 * injection", e.g. a unit or tag value of `=HYPERLINK(...)`) gets a leading `'`, which spreadsheets show as
 * plain text. Fields holding a comma, a quote or a line break are quoted.
 */

export type CsvValue = string | number | boolean | null | undefined;

const FORMULA_START = /^[=+\-@\t\r]/;
const NEEDS_QUOTES = /[",\r\n]/;

export function csvCell(value: CsvValue): string {
  if (value === undefined || value === null) return '';
  if (typeof value === 'number') return Number.isFinite(value) ? String(value) : '';
  let text = String(value);
  if (typeof value === 'string' && FORMULA_START.test(text)) text = `'${text}`;
  return NEEDS_QUOTES.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

/** One record, ended with CRLF as RFC 4180 says (every spreadsheet and CSV library reads it). */
export function csvRow(values: readonly CsvValue[]): string {
  let line = '';
  for (let i = 0; i < values.length; i++) line += (i === 0 ? '' : ',') + csvCell(values[i]);
  return `${line}\r\n`;
}
