/**
 * What the dashboard's bundle gets in place of files-transfer.ts (web/vite.config.ts aliases it): file paths
 * and Node streams do not exist in a browser, and the Node transfer code (fs, crypto, zlib) would only be
 * dead weight there. Browsers upload a File or Blob with files.uploadBlob and download over HTTP.
 */
import { NexoError } from '../../errors.js';

function unavailable(what: string): Promise<never> {
  return Promise.reject(
    new NexoError(
      'INVALID_ARGS',
      `${what} takes a file path or a Node stream, which a browser does not have: upload a File or Blob with files.uploadBlob, and download with GET /api/files/<id>/content`,
    ),
  );
}

export const upload = (): Promise<never> => unavailable('files.upload');
export const download = (): Promise<never> => unavailable('files.download');
