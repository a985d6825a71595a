import type { FunctionSpec } from './functions.js';

/**
 * The parser emits postfix code instead of a tree: evaluation is then a loop over an array with an
 * explicit stack, so a left-leaning chain like 1+1+...+1 of any length never recurses.
 */
export const Op = {
  Num: 0,
  Var: 1,
  Const: 2,
  Neg: 3,
  Add: 4,
  Sub: 5,
  Mul: 6,
  Div: 7,
  Mod: 8,
  Pow: 9,
  Call: 10,
} as const;
export type Op = (typeof Op)[keyof typeof Op];

/** One shape for every instruction keeps the evaluation loop monomorphic. */
export interface Instr {
  readonly op: Op;
  /** 1-based column of the token that produced it (the operator, the name, the literal). */
  readonly column: number;
  /** Literal text, or variable, constant or function name; '' otherwise. */
  readonly text: string;
  readonly fn: FunctionSpec | undefined;
  readonly argc: number;
}

export interface Program {
  readonly code: readonly Instr[];
  /** The variable of a top-level `name = expression`. */
  readonly assign: string | undefined;
}
