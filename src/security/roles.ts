/** Who may call a group of methods: everybody, or sessions whose role is listed (server options' RoleList). */
export type RoleList = 'anyone' | readonly string[];
/** The files settings the files rows name (docs/configuration.md). */
export interface FilesRoles {
  readonly readRoles: RoleList;
  readonly writeRoles: RoleList;
  readonly deleteRoles: RoleList;
}

/**
 * §5.4 The one table of who may call what. Every built-in method has a row (a test checks the rows against
 * the registered methods and against docs/protocol.md §5.4). The dispatcher enforces it: `FORBIDDEN` when
 * the role may not call the method, and for `sensor` rows, when the call is about another sensor than the
 * session's own (the token's name or the certificate's CN).
 *
 * Roles: `admin`, `user`, `sensor`, `anonymous` (no token), or any other name a token was given, which gets
 * what `anyone` rows give.
 */
export type Rule =
  /** Every role. */
  | 'anyone'
  /** Every role but `sensor`. */
  | 'not-sensor'
  /** Every role; `sensor` only about its own sensor id. */
  | 'own-sensor'
  /** The roles in a files setting (docs/configuration.md). */
  | 'files.readRoles'
  | 'files.writeRoles'
  | 'files.deleteRoles';

export const ROLE_TABLE: Readonly<Record<string, Rule>> = {
  'calc.eval': 'anyone',
  'calc.batch': 'anyone',
  'calc.vars': 'anyone',
  'calc.clear': 'anyone',
  'greet.hello': 'anyone',
  'greet.languages': 'anyone',
  'echo.echo': 'anyone',
  'echo.stream': 'anyone',
  'node.info': 'anyone',
  'node.stats': 'anyone',
  'node.watch': 'anyone',
  'node.members': 'anyone',
  'chat.join': 'not-sensor',
  'chat.say': 'not-sensor',
  'chat.dm': 'not-sensor',
  'chat.leave': 'not-sensor',
  'chat.who': 'not-sensor',
  'chat.history': 'not-sensor',
  'chat.rooms': 'not-sensor',
  'telemetry.report': 'own-sensor',
  'telemetry.reportBatch': 'own-sensor',
  'telemetry.sensors': 'own-sensor',
  'telemetry.latest': 'own-sensor',
  'telemetry.readings': 'own-sensor',
  'telemetry.buckets': 'own-sensor',
  'telemetry.watch': 'own-sensor',
  'telemetry.alertEvents': 'own-sensor',
  'telemetry.alerts': 'not-sensor',
  'telemetry.addAlert': 'not-sensor',
  'telemetry.removeAlert': 'not-sensor',
  'telemetry.stats': 'anyone',
  'files.upload': 'files.writeRoles',
  'files.download': 'files.readRoles',
  'files.info': 'files.readRoles',
  'files.list': 'files.readRoles',
  'files.status': 'files.readRoles',
  'files.usage': 'files.readRoles',
  'files.delete': 'files.deleteRoles',
};

export const SENSOR_ROLE = 'sensor';

/** The roles a rule lets in, given the node's settings. */
export function accessOf(
  rule: Rule,
  files: FilesRoles,
): {
  allows(role: string): boolean;
  /** For FORBIDDEN's details. */
  readonly required: RoleList | { except: readonly string[] };
} {
  switch (rule) {
    case 'anyone':
    case 'own-sensor':
      return { allows: () => true, required: 'anyone' };
    case 'not-sensor':
      return { allows: (role) => role !== SENSOR_ROLE, required: { except: [SENSOR_ROLE] } };
    default: {
      const list = files[rule.slice('files.'.length) as 'readRoles' | 'writeRoles' | 'deleteRoles'];
      return { allows: (role) => list === 'anyone' || list.includes(role), required: list };
    }
  }
}

/**
 * The sensor ids an own-sensor call is about: `sensor` (one) or `sensors` (a list). None named means all
 * sensors, which a `sensor` session may not ask for.
 */
export function sensorsNamed(args: unknown): readonly string[] | undefined {
  if (args === null || typeof args !== 'object') return undefined;
  const a = args as { sensor?: unknown; sensors?: unknown };
  if (typeof a.sensor === 'string') return [a.sensor];
  if (Array.isArray(a.sensors) && a.sensors.length > 0 && a.sensors.every((s) => typeof s === 'string')) {
    return a.sensors as string[];
  }
  return undefined;
}
