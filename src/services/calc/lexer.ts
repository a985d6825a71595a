import { syntaxError } from './fail.js';

export const Tok = {
  End: 0,
  Num: 1,
  Name: 2,
  Plus: 3,
  Minus: 4,
  Star: 5,
  Slash: 6,
  Percent: 7,
  Caret: 8,
  LParen: 9,
  RParen: 10,
  Comma: 11,
  Assign: 12,
} as const;
export type Tok = (typeof Tok)[keyof typeof Tok];

/** Single-character tokens by char code; 0 marks "not a punctuator" (Tok.End never comes from a char). */
const PUNCT = new Uint8Array(128);
PUNCT[43] = Tok.Plus;
PUNCT[45] = Tok.Minus;
PUNCT[42] = Tok.Star;
PUNCT[47] = Tok.Slash;
PUNCT[37] = Tok.Percent;
PUNCT[94] = Tok.Caret;
PUNCT[40] = Tok.LParen;
PUNCT[41] = Tok.RParen;
PUNCT[44] = Tok.Comma;
PUNCT[61] = Tok.Assign;

const isDigit = (c: number): boolean => c >= 48 && c <= 57;
const isNameStart = (c: number): boolean => (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || c === 95;
const isNamePart = (c: number): boolean => isNameStart(c) || isDigit(c);
/** Space, \t, \n, \v, \f, \r. */
const isSpace = (c: number): boolean => c === 32 || (c >= 9 && c <= 13);

/**
 * An on-demand tokenizer: the current token lives in fields instead of objects, so a 64 KB expression
 * allocates nothing but the slices the parser asks for. Positions are UTF-16 indexes; columns are index + 1.
 */
export class Lexer {
  kind: Tok = Tok.End;
  /** Index of the current token's first code unit (the input length at the end). */
  start = 0;
  end = 0;

  constructor(readonly src: string) {}

  text(): string {
    return this.src.slice(this.start, this.end);
  }

  /** Whether the next token after the current one is '=' (assignment lookahead without consuming). */
  assignFollows(): boolean {
    const src = this.src;
    let i = this.end;
    while (i < src.length && isSpace(src.charCodeAt(i))) i++;
    return src.charCodeAt(i) === 61;
  }

  next(): void {
    const src = this.src;
    const n = src.length;
    let i = this.end;
    while (i < n && isSpace(src.charCodeAt(i))) i++;
    this.start = i;
    if (i >= n) {
      this.kind = Tok.End;
      this.end = n;
      return;
    }
    const c = src.charCodeAt(i);
    if (isDigit(c) || (c === 46 && isDigit(src.charCodeAt(i + 1)))) {
      this.end = this.number(i);
      this.kind = Tok.Num;
    } else if (isNameStart(c)) {
      i++;
      while (i < n && isNamePart(src.charCodeAt(i))) i++;
      this.end = i;
      this.kind = Tok.Name;
    } else {
      const kind = c < 128 ? PUNCT[c] : 0;
      if (kind === undefined || kind === 0) throw unexpectedCharacter(src, i);
      this.end = i + 1;
      this.kind = kind as Tok;
    }
  }

  /** Scans `12`, `1.5`, `.5`, `1.`, `1e10`, `1.5E-3`; returns the end index. */
  private number(i: number): number {
    const src = this.src;
    while (isDigit(src.charCodeAt(i))) i++;
    if (src.charCodeAt(i) === 46) {
      i++;
      while (isDigit(src.charCodeAt(i))) i++;
    }
    const e = src.charCodeAt(i);
    if (e === 101 || e === 69) {
      let j = i + 1;
      const sign = src.charCodeAt(j);
      if (sign === 43 || sign === 45) j++;
      if (!isDigit(src.charCodeAt(j))) {
        const shown = src.slice(this.start, Math.min(j, this.start + 24));
        throw syntaxError(i + 1, `malformed number '${shown}': expected digits after '${src[i]}'`);
      }
      i = j;
      while (isDigit(src.charCodeAt(i))) i++;
    }
    return i;
  }
}

/** Characters people paste from documents or other calculators, and what to type instead. */
const HINTS: Record<string, string> = {
  '×': "use '*' to multiply",
  '·': "use '*' to multiply",
  '⋅': "use '*' to multiply",
  '∙': "use '*' to multiply",
  '÷': "use '/' to divide",
  '∕': "use '/' to divide",
  '−': "use '-' for minus",
  '–': "use '-' for minus",
  '—': "use '-' for minus",
  '√': 'use sqrt(x)',
  π: 'use pi',
  '²': "use '^2'",
  '³': "use '^3'",
  '[': "use '(' and ')' for grouping",
  ']': "use '(' and ')' for grouping",
  '{': "use '(' and ')' for grouping",
  '}': "use '(' and ')' for grouping",
  '!': 'factorials are not supported',
  ';': 'send one expression at a time',
  '\u00a0': 'a no-break space; use a plain space',
  '\u200b': 'a zero-width space',
  '\ufeff': 'a byte order mark',
};

const INVISIBLE = /^[\p{C}\p{Z}\p{M}]$/u;

function unexpectedCharacter(src: string, i: number) {
  const cp = src.codePointAt(i) ?? 0;
  const ch = String.fromCodePoint(cp);
  // Lone surrogates, controls, spaces other than ASCII ones and combining marks would print as nothing.
  const lone = cp >= 0xd800 && cp <= 0xdfff;
  const shown =
    lone || INVISIBLE.test(ch) ? `U+${cp.toString(16).toUpperCase().padStart(4, '0')}` : `'${ch}'`;
  const hint = HINTS[ch];
  return syntaxError(i + 1, `unexpected character ${shown}${hint === undefined ? '' : ` (${hint})`}`);
}
