import type { Requester, RequestOptions } from './requester.js';

export type GreetLanguage = 'es' | 'pt' | 'en' | 'fr' | 'de' | 'it';

/** Typed calls of the greet service. */
export function greetApi(r: Requester) {
  return {
    hello: (names: string[], lang?: GreetLanguage, options?: RequestOptions) =>
      r.request<{ lang: GreetLanguage; node: string; greetings: string[] }>(
        'greet',
        'hello',
        lang === undefined ? { names } : { names, lang },
        options,
      ),
    languages: (options?: RequestOptions) =>
      r.request<{ default: GreetLanguage; languages: { code: GreetLanguage; name: string }[] }>(
        'greet',
        'languages',
        null,
        options,
      ),
  };
}
