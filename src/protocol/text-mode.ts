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
