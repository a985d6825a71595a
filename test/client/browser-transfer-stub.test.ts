import { describe, expect, it } from 'vitest';
import * as stub from '../../src/client/api/files-transfer.browser.js';
import * as real from '../../src/client/api/files-transfer.js';

describe("the dashboard's stand-in for Node file transfers", () => {
  it('exports what files-transfer.ts exports (the bundle aliases one to the other)', () => {
    const functions = (m: object) =>
      Object.entries(m)
        .filter(([, v]) => typeof v === 'function')
        .map(([k]) => k)
        .sort();
    expect(functions(stub)).toEqual(functions(real));
  });

  it('refuses paths and streams with an error that says what to use instead', async () => {
    await expect(stub.upload()).rejects.toMatchObject({ code: 'INVALID_ARGS', message: /files\.uploadBlob/ });
    await expect(stub.download()).rejects.toMatchObject({ code: 'INVALID_ARGS', message: /\/api\/files/ });
  });
});
