import { Type } from '@sinclair/typebox';
import { defineMethod, type ServiceDefinition, type ServiceHost } from '../../contract/service.js';
import { NexoError } from '../../errors.js';
import { DEFAULT_LANGUAGE, GREETINGS, greet, LANGUAGES, type Language } from './greetings.js';

export const MAX_NAMES = 1000;
export const MAX_NAME_LENGTH = 100;

/**
 * A name is printable text: no control or format characters, no line separators, so a greeting can never
 * break a line or a terminal. (Type.RegExp, not `pattern`: \p{...} needs the u flag.)
 */
const Name = Type.RegExp(/^[^\p{Cc}\p{Cf}\p{Zl}\p{Zp}]+$/u, { minLength: 1, maxLength: MAX_NAME_LENGTH });
const Lang = Type.Union(LANGUAGES.map((l) => Type.Literal(l)));

/** `greet`: the seeds' greeting server. A client sends names; the node greets each one. */
export function greetService(host: ServiceHost): ServiceDefinition {
  return {
    name: 'greet',
    description: 'Greets each name it is sent, in Spanish unless another language is asked for.',
    methods: {
      hello: defineMethod({
        description: 'One greeting per name, in order.',
        args: Type.Object(
          { names: Type.Array(Name, { minItems: 1, maxItems: MAX_NAMES }), lang: Type.Optional(Lang) },
          { additionalProperties: false },
        ),
        handler: (args) => {
          const lang = args.lang ?? DEFAULT_LANGUAGE;
          return { lang, node: host.nodeId(), greetings: args.names.map((n) => greet(n.trim() || n, lang)) };
        },
      }),
      languages: defineMethod({
        description: 'The languages greet speaks.',
        args: Type.Union([Type.Null(), Type.Object({}, { additionalProperties: false })]),
        handler: () => ({
          default: DEFAULT_LANGUAGE,
          languages: LANGUAGES.map((code) => ({ code, name: GREETINGS[code].name })),
        }),
      }),
    },
    text: [
      {
        name: 'greet',
        aliases: ['hola', 'ola'],
        usage: 'greet [--lang es|pt|en|fr|de|it] <name> [name...]',
        summary: 'greet each name (names with spaces: separate with commas)',
        parse: parseGreetLine,
        format: (result) => (result as { greetings: string[] }).greetings,
      },
    ],
  };
}

function parseGreetLine(rest: string): { method: string; args: unknown } {
  let lang: Language | undefined;
  let text = rest;
  const flag = /^(?:--lang|-l)(?:=|\s+)(\S+)\s*/.exec(text);
  if (flag) {
    const code = flag[1]!.toLowerCase();
    if (!(LANGUAGES as string[]).includes(code)) {
      throw new NexoError(
        'INVALID_ARGS',
        `unknown language '${code.slice(0, 16)}'; choose one of ${LANGUAGES.join(', ')}`,
      );
    }
    lang = code as Language;
    text = text.slice(flag[0].length);
  }
  const names = (text.includes(',') ? text.split(',') : text.split(/\s+/))
    .map((n) => n.trim())
    .filter(Boolean);
  if (names.length === 0)
    throw new NexoError('INVALID_ARGS', 'usage: greet [--lang es|pt|en|fr|de|it] <name> [name...]');
  return { method: 'hello', args: lang === undefined ? { names } : { names, lang } };
}
