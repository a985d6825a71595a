/** Greeting templates by language. `{name}` is replaced by the name. Spanish is the default (the seeds'). */
export const GREETINGS = {
  es: { name: 'español', template: '¡Hola, {name}!' },
  pt: { name: 'português', template: 'Olá, {name}!' },
  en: { name: 'English', template: 'Hello, {name}!' },
  fr: { name: 'français', template: 'Bonjour, {name} !' },
  de: { name: 'Deutsch', template: 'Hallo, {name}!' },
  it: { name: 'italiano', template: 'Ciao, {name}!' },
} as const;

export type Language = keyof typeof GREETINGS;
export const DEFAULT_LANGUAGE: Language = 'es';
export const LANGUAGES = Object.keys(GREETINGS) as Language[];

export function greet(name: string, lang: Language): string {
  // A replacer function, not a string: names like `$&` or `$$` must not act as replacement patterns.
  return GREETINGS[lang].template.replace('{name}', () => name);
}
