/** §8.2 Words that end a text session: the seeds' clients say "fim" (pt) or "salir" (es). */
export const QUIT_WORDS: ReadonlySet<string> = new Set([
  'quit',
  'exit',
  'bye',
  'fim',
  'sair',
  'salir',
  'adios',
]);

/**
 * §8.3 What a text-mode reply line may contain: line breaks become spaces (a reply cannot forge extra lines)
 * and other control characters (C0 but TAB, DEL, C1) become `?`, so nothing a client typed or stored (an
 * `ESC ] 0;… BEL` title sequence) can drive the reader's terminal when it is echoed back.
 */
export function replyLine(line: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are exactly what is removed
  return line.replace(/[\r\n]+/g, ' ').replace(/[\u0000-\u0008\u000b-\u001f\u007f\u0080-\u009f]/g, '?');
}
