/** A URL with its password replaced by `***`, for messages and logs (`postgres://u:secret@h` → `postgres://u:***@h`). */
export function redactUrl(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/[^:/@\s]*):[^@/\s]*@/i, '$1:***@');
}
