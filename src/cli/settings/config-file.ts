import { readFileSync } from 'node:fs';
import { OptionsError } from '../../options/options.js';

/** The JSON config file (`--config`, NEXO_CONFIG): one object, keys as in docs/configuration.md. */
export function readConfig(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new OptionsError([`config: cannot read ${path}: ${(err as Error).message}`]);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new OptionsError([`config: ${path} is not valid JSON: ${(err as Error).message}`]);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new OptionsError([`config: ${path} must hold a JSON object`]);
  }
  return value as Record<string, unknown>;
}
