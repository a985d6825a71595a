/**
 * Recursive descent over the grammar in docs/calc.md, emitting postfix code. Recursion happens only where
 * nesting does (parentheses, signs, calls, the right side of ^), and each of those counts against
 * maxDepth before recursing, so the stack depth is bounded by the limit, never by the input.
 */
import type { NexoError } from '../../errors.js';
import { calcError, quoteName, syntaxError } from './fail.js';
import { CONSTANTS, FUNCTIONS, type FunctionSpec } from './functions.js';
import { Lexer, Tok } from './lexer.js';
import type { CalcLimits } from './limits.js';
import { type Instr, Op, type Program } from './program.js';
import { suggest } from './suggest.js';

/** Longest variable name an assignment accepts. */
export const MAX_NAME_LENGTH = 32;

export function parse(src: string, limits: CalcLimits): Program {
  return new Parser(src, limits.maxDepth, limits.maxNodes).program();
}

const BINARY: Partial<Record<Tok, Op>> = {
  [Tok.Plus]: Op.Add,
  [Tok.Minus]: Op.Sub,
  [Tok.Star]: Op.Mul,
  [Tok.Slash]: Op.Div,
  [Tok.Percent]: Op.Mod,
};

class Parser {
  private readonly lex: Lexer;
  private readonly code: Instr[] = [];
  private depth = 0;

  constructor(
    src: string,
    private readonly maxDepth: number,
    private readonly maxNodes: number,
  ) {
    this.lex = new Lexer(src);
  }

  program(): Program {
    const lex = this.lex;
    lex.next();
    if (lex.kind === Tok.End) throw syntaxError(1, 'the expression is empty');
    let assign: string | undefined;
    if (lex.kind === Tok.Name && lex.assignFollows()) {
      assign = lex.text();
      checkAssignable(assign, lex.start + 1);
      lex.next(); // onto '='
      lex.next(); // past it
    }
    this.expression();
    // (TypeScript keeps the narrowing from before expression() moved the lexer on.)
    if ((lex.kind as Tok) !== Tok.End) throw this.unexpected();
    return { code: this.code, assign };
  }

  private expression(): void {
    this.term();
    const lex = this.lex;
    while (lex.kind === Tok.Plus || lex.kind === Tok.Minus) {
      const op = BINARY[lex.kind] as Op;
      const column = lex.start + 1;
      lex.next();
      this.term();
      this.emit(op, column);
    }
  }

  private term(): void {
    this.unary();
    const lex = this.lex;
    while (lex.kind === Tok.Star || lex.kind === Tok.Slash || lex.kind === Tok.Percent) {
      const op = BINARY[lex.kind] as Op;
      const column = lex.start + 1;
      lex.next();
      this.unary();
      this.emit(op, column);
    }
  }

  /** Signs bind looser than ^, so -2^2 is -(2^2); 2^-1 works because ^'s right side is a unary. */
  private unary(): void {
    const lex = this.lex;
    const kind = lex.kind;
    if (kind !== Tok.Plus && kind !== Tok.Minus) {
      this.power();
      return;
    }
    const column = lex.start + 1;
    this.enter(column);
    lex.next();
    this.unary();
    this.depth--;
    if (kind === Tok.Minus) this.emit(Op.Neg, column);
  }

  private power(): void {
    this.primary();
    const lex = this.lex;
    if (lex.kind !== Tok.Caret) return;
    const column = lex.start + 1;
    this.enter(column);
    lex.next();
    this.unary(); // right-associative: 2^3^2 is 2^(3^2)
    this.depth--;
    this.emit(Op.Pow, column);
  }

  private primary(): void {
    const lex = this.lex;
    const column = lex.start + 1;
    switch (lex.kind) {
      case Tok.Num:
        this.emit(Op.Num, column, lex.text());
        lex.next();
        return;
      case Tok.Name:
        this.name();
        return;
      case Tok.LParen:
        this.enter(column);
        lex.next();
        this.expression();
        this.close(column);
        this.depth--;
        return;
      default:
        throw this.unexpected();
    }
  }

  private name(): void {
    const lex = this.lex;
    const name = lex.text();
    const column = lex.start + 1;
    lex.next();
    if (lex.kind === Tok.LParen) {
      this.call(name, column);
      return;
    }
    if (CONSTANTS.has(name)) {
      this.emit(Op.Const, column, name);
      return;
    }
    const fn = FUNCTIONS.get(name);
    if (fn !== undefined) throw syntaxError(column, `${name} is a function: call it as ${fn.usage}`);
    this.emit(Op.Var, column, name);
  }

  private call(name: string, column: number): void {
    const fn = FUNCTIONS.get(name);
    if (fn === undefined) throw unknownFunction(name, column);
    const lex = this.lex;
    const open = lex.start + 1;
    this.enter(open);
    lex.next();
    let argc = 0;
    if (lex.kind !== Tok.RParen) {
      for (;;) {
        this.expression();
        argc++;
        if (lex.kind !== Tok.Comma) break;
        lex.next();
      }
    }
    this.close(open);
    this.depth--;
    if (argc < fn.minArgs || argc > fn.maxArgs) throw arityError(fn, argc, column);
    this.emit(Op.Call, column, name, fn, argc);
  }

  private close(open: number): void {
    const lex = this.lex;
    if (lex.kind === Tok.RParen) {
      lex.next();
      return;
    }
    if (lex.kind === Tok.End) {
      throw syntaxError(lex.start + 1, `expected ')' to close '(' at column ${open}`, { openColumn: open });
    }
    throw this.unexpected();
  }

  private enter(column: number): void {
    if (++this.depth > this.maxDepth) {
      throw calcError(
        'CALC_TOO_COMPLEX',
        'expression too deeply nested',
        column,
        `more than ${this.maxDepth} levels of parentheses, signs, function calls or powers`,
        { limit: this.maxDepth },
      );
    }
  }

  private emit(op: Op, column: number, text = '', fn: FunctionSpec | undefined = undefined, argc = 0): void {
    if (this.code.length >= this.maxNodes) {
      throw calcError(
        'CALC_TOO_COMPLEX',
        'expression too large',
        column,
        `more than ${this.maxNodes} numbers, names, operators and calls`,
        { limit: this.maxNodes },
      );
    }
    this.code.push({ op, column, text, fn, argc });
  }

  /** The error for the current token, which cannot appear where it is. */
  private unexpected(): NexoError {
    const lex = this.lex;
    const column = lex.start + 1;
    const src = lex.src;
    switch (lex.kind) {
      case Tok.End:
        return syntaxError(column, 'unexpected end of expression');
      // Operands and '(' are only unexpected right after another operand.
      case Tok.Num: {
        const text = lex.text();
        const shown = text.length > 24 ? `${text.slice(0, 24)}…` : text;
        return syntaxError(column, `unexpected number '${shown}' (missing operator?)`);
      }
      case Tok.Name:
        return syntaxError(column, `unexpected name ${quoteName(lex.text())} (missing operator?)`);
      case Tok.LParen:
        return syntaxError(column, "unexpected '(' (missing operator?)");
      case Tok.Assign:
        return syntaxError(column, "unexpected '=' (assignments look like: name = expression)");
      case Tok.Star:
        if (src.charCodeAt(lex.start - 1) === 42)
          return syntaxError(column, "unexpected '*' (use ^ for powers)");
        break;
      case Tok.Comma:
        if (isDigitAt(src, lex.start - 1) && isDigitAt(src, lex.start + 1)) {
          return syntaxError(column, "unexpected ',' (use '.' as the decimal point)");
        }
        break;
    }
    return syntaxError(column, `unexpected '${lex.text()}'`);
  }
}

function isDigitAt(src: string, i: number): boolean {
  const c = src.charCodeAt(i);
  return c >= 48 && c <= 57;
}

function checkAssignable(name: string, column: number): void {
  let problem: string | undefined;
  if (name.length > MAX_NAME_LENGTH) {
    problem = `variable names have at most ${MAX_NAME_LENGTH} characters (this one has ${name.length})`;
  } else if (FUNCTIONS.has(name)) {
    problem = `${name} is a function`;
  } else if (CONSTANTS.has(name)) {
    problem = `${name} is a constant`;
  }
  if (problem !== undefined) {
    throw calcError('CALC_BAD_ASSIGNMENT', `cannot assign to ${quoteName(name)}`, column, problem, { name });
  }
}

function unknownFunction(name: string, column: number): NexoError {
  if (CONSTANTS.has(name)) {
    return calcError('CALC_UNKNOWN_FUNCTION', `unknown function '${name}'`, column, `${name} is a constant`, {
      name,
    });
  }
  const suggestion = suggest(name, FUNCTIONS.keys());
  const detail =
    suggestion === undefined
      ? `the functions are ${[...FUNCTIONS.keys()].join(', ')}`
      : `did you mean ${suggestion}?`;
  return calcError('CALC_UNKNOWN_FUNCTION', `unknown function ${quoteName(name)}`, column, detail, {
    name: name.slice(0, MAX_NAME_LENGTH),
    ...(suggestion === undefined ? {} : { suggestion }),
  });
}

function arityError(fn: FunctionSpec, argc: number, column: number): NexoError {
  const expected =
    fn.maxArgs === Number.POSITIVE_INFINITY
      ? `at least ${fn.minArgs} argument${fn.minArgs === 1 ? '' : 's'}`
      : fn.minArgs === fn.maxArgs
        ? `${fn.minArgs} argument${fn.minArgs === 1 ? '' : 's'}`
        : `${fn.minArgs} or ${fn.maxArgs} arguments`;
  return calcError(
    'CALC_ARITY',
    'wrong number of arguments',
    column,
    `${fn.name} takes ${expected} but got ${argc} (usage: ${fn.usage})`,
    { function: fn.name, got: argc },
  );
}
