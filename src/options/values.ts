import { Type } from '@sinclair/typebox';

/** The kinds of value several groups of settings share, as they may be written in flags, env and config. */

export const Duration = Type.Union(
  [Type.Number({ minimum: 0 }), Type.String({ minLength: 1, maxLength: 32 })],
  {
    description: 'milliseconds, or a string such as 250ms, 10s, 5m',
  },
);
export const Size = Type.Union([Type.Integer({ minimum: 0 }), Type.String({ minLength: 1, maxLength: 32 })], {
  description: 'bytes, or a string such as 64KiB, 1MiB',
});
export const Port = Type.Integer({ minimum: 0, maximum: 65535 });
export const HostName = Type.String({ minLength: 1, maxLength: 255 });
const Role = Type.String({ pattern: '^[a-z][a-z0-9_-]{0,31}$' });
/** Who may call a group of methods: "anyone", or a list of roles (e.g. ["admin", "user"]). */
export const Roles = Type.Union([Type.Literal('anyone'), Type.Array(Role, { minItems: 1, maxItems: 64 })]);

/** Who may call a group of methods: everybody, or sessions whose role is listed. */
export type RoleList = 'anyone' | readonly string[];
