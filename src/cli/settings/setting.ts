/** One `nexo server` setting: a flag, an environment variable and a config-file key. */
export interface Setting {
  /** Dotted path in the config file / ServerOptionsInput. */
  readonly path: string;
  readonly flag: string;
  readonly env: string;
  readonly help: string;
  /** `roles`: "anyone" or a comma-separated list of roles. */
  readonly kind: 'string' | 'int' | 'bool' | 'unit' | 'roles';
}

/** The value a flag's or variable's text stands for; what does not fit its kind stays text, for the schema to name. */
export function convert(value: string, kind: Setting['kind']): unknown {
  if (kind === 'int') return /^-?\d+$/.test(value.trim()) ? Number(value) : value;
  if (kind === 'bool')
    return value === 'true' || value === '1' ? true : value === 'false' || value === '0' ? false : value;
  if (kind === 'unit') return /^\d+$/.test(value.trim()) ? Number(value) : value;
  if (kind === 'roles') {
    if (value.trim() === 'anyone') return 'anyone';
    return value
      .split(',')
      .map((r) => r.trim())
      .filter(Boolean);
  }
  return value;
}
