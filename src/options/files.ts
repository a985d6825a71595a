import { type Static, Type } from '@sinclair/typebox';
import { parseDuration, parseSize } from '../util/units.js';
import type { UnitReader } from './problems.js';
import { Duration, type RoleList, Roles, Size } from './values.js';

export const FilesSchema = Type.Object(
  {
    maxFileSize: Type.Optional(Size),
    quota: Type.Optional(Size),
    maxUploads: Type.Optional(Type.Integer({ minimum: 1, maximum: 100_000 })),
    partialExpiry: Type.Optional(Duration),
    stallTimeout: Type.Optional(Duration),
    readRoles: Type.Optional(Roles),
    writeRoles: Type.Optional(Roles),
    deleteRoles: Type.Optional(Roles),
  },
  { additionalProperties: false },
);

/** Settings of the files service (docs/configuration.md). */
export interface FilesOptions {
  /** Largest file accepted, bytes. */
  maxFileSize: number;
  /** Bytes all stored files (each content once) plus unfinished uploads may take; 0 = only the disk limits. */
  quota: number;
  /** Uploads receiving at once on this node. */
  maxUploads: number;
  /** Unfinished uploads untouched this long are deleted. */
  partialExpiryMs: number;
  /** An upload that receives no chunk this long fails (it stays resumable). */
  stallTimeoutMs: number;
  /** download, info, list, status */
  readRoles: RoleList;
  /** upload */
  writeRoles: RoleList;
  /** delete */
  deleteRoles: RoleList;
}

export const FILES_DEFAULTS = {
  maxFileSize: '64GiB',
  quota: 0,
  maxUploads: 16,
  partialExpiry: '24h',
  stallTimeout: '2m',
  readRoles: 'anyone' as RoleList,
  writeRoles: 'anyone' as RoleList,
  deleteRoles: ['admin'] as RoleList,
} as const;

export function resolveFiles(o: Static<typeof FilesSchema> | undefined, unit: UnitReader): FilesOptions {
  const d = FILES_DEFAULTS;
  return {
    maxFileSize: unit('files.maxFileSize', parseSize, o?.maxFileSize ?? d.maxFileSize),
    quota: unit('files.quota', parseSize, o?.quota ?? d.quota),
    maxUploads: o?.maxUploads ?? d.maxUploads,
    partialExpiryMs: unit('files.partialExpiry', parseDuration, o?.partialExpiry ?? d.partialExpiry),
    stallTimeoutMs: unit('files.stallTimeout', parseDuration, o?.stallTimeout ?? d.stallTimeout),
    readRoles: o?.readRoles ?? d.readRoles,
    writeRoles: o?.writeRoles ?? d.writeRoles,
    deleteRoles: o?.deleteRoles ?? d.deleteRoles,
  };
}

export function filesProblems(f: FilesOptions): string[] {
  const problems: string[] = [];
  if (f.maxFileSize === 0) problems.push('files.maxFileSize: must be more than 0');
  if (f.partialExpiryMs < 1000) {
    problems.push(
      `files.partialExpiry: must be at least 1s, so an interrupted upload can be resumed (got ${f.partialExpiryMs} ms)`,
    );
  }
  if (f.stallTimeoutMs < 1000) {
    problems.push(`files.stallTimeout: must be at least 1s (got ${f.stallTimeoutMs} ms)`);
  }
  return problems;
}
