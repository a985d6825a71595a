/** Shortens text a peer sent (a name, a path) before it goes into a message or a log line. */
export function clip(text: string, max = 64): string {
  return text.length > max ? `${text.slice(0, max - 3)}...` : text;
}
