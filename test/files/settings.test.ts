import { describe, expect, it } from 'vitest';
import { serverOptionsFrom } from '../../src/cli/server-settings.js';
import { type OptionsError, resolveOptions } from '../../src/options/options.js';

describe('files settings', () => {
  it('have defaults: 64GiB files, no quota, 16 uploads, 24h expiry, 2m stall, anyone reads and writes, admin deletes', () => {
    expect(resolveOptions({}).files).toEqual({
      maxFileSize: 64 * 1024 ** 3,
      quota: 0,
      maxUploads: 16,
      partialExpiryMs: 24 * 3600_000,
      stallTimeoutMs: 120_000,
      readRoles: 'anyone',
      writeRoles: 'anyone',
      deleteRoles: ['admin'],
    });
  });

  it('come from flags, environment and config keys, roles as "anyone" or a comma list', () => {
    const { options } = serverOptionsFrom(
      { filesMaxSize: '2GiB', filesDeleteRoles: 'admin, ops', filesQuota: '100GB' },
      { NEXO_FILES_READ_ROLES: 'user', NEXO_FILES_WRITE_ROLES: 'anyone', NEXO_FILES_MAX_UPLOADS: '3' },
    );
    expect(options.files).toMatchObject({
      maxFileSize: 2 * 1024 ** 3,
      quota: 100e9,
      maxUploads: 3,
      readRoles: ['user'],
      writeRoles: 'anyone',
      deleteRoles: ['admin', 'ops'],
    });
  });

  it('bad values are named with where they came from', () => {
    const problems = (fn: () => unknown) => {
      try {
        fn();
      } catch (err) {
        return (err as OptionsError).problems.join('\n');
      }
      return '';
    };
    expect(problems(() => serverOptionsFrom({ filesDeleteRoles: 'Admin!' }, {}))).toMatch(
      /files\.deleteRoles.*\[from flag --files-delete-roles\]/,
    );
    expect(problems(() => serverOptionsFrom({}, { NEXO_FILES_MAX_SIZE: 'lots' }))).toMatch(
      /files\.maxFileSize: invalid size "lots".*\[from env NEXO_FILES_MAX_SIZE\]/,
    );
    expect(problems(() => resolveOptions({ files: { partialExpiry: '10ms' } }))).toMatch(/at least 1s/);
    expect(problems(() => resolveOptions({ files: { stallTimeout: 0 } }))).toMatch(
      /stallTimeout: must be at least 1s/,
    );
    expect(problems(() => resolveOptions({ files: { maxFileSize: 0 } }))).toMatch(
      /maxFileSize: must be more than 0/,
    );
    expect(problems(() => resolveOptions({ files: { maxUploads: 0 } }))).toMatch(/files\.maxUploads/);
    expect(problems(() => resolveOptions({ files: { nope: 1 } } as never))).toMatch(
      /files\.nope: unknown option/,
    );
  });
});
