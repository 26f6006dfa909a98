/**
 * Every command and option in one typed table. It drives the commander
 * program, `--help`, and docs/cli.md (generated; a test keeps it in sync).
 */
import type { ExitCode } from '../core/errors.js';

export interface OptionSpec {
  /** commander flag syntax, e.g. `--hosts <file>` or `--json`. */
  readonly flags: string;
  readonly description: string;
  readonly default?: string | boolean;
}

export interface Io {
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
  readonly isTTY: boolean;
  readonly columns: number;
}

/** `keep-runs` → `keepRuns`, as commander names an option's value. */
type Camel<S extends string> = S extends `${infer A}-${infer B}` ? `${A}${Capitalize<Camel<B>>}` : S;
/** The option's key: `--keep-runs <n>` → keepRuns, `--no-tracing` → tracing. */
type KeyOf<F extends string> = F extends `--no-${infer N}` ? Camel<N> : F extends `--${infer N} ${string}` ? Camel<N> : F extends `--${infer N}` ? Camel<N> : never;
/** What commander gives: the text of a `<value>`, or a switch. */
type ValueOf<F extends string> = F extends `${string}<${string}>` ? string : boolean;
/** Absent unless given, except with a default (and `--no-x`, which is true unless given). */
type Given<S extends OptionSpec> = S extends { readonly default: string | boolean } ? ValueOf<S['flags']> : S['flags'] extends `--no-${string}` ? boolean : ValueOf<S['flags']> | undefined;

/** The options object a command's run receives, derived from its option table. */
export type OptionsOf<O extends readonly OptionSpec[]> = { readonly [S in O[number] as KeyOf<S['flags']>]: Given<S> };

/** One positional argument's value: `<x>` a string, `[x]` maybe one, `[x...]`/`<x...>` a list. */
type ArgOf<A extends string> = A extends `${string}...${string}` ? string[] : A extends `[${string}]` ? string | undefined : string;
/** The positional arguments a command's run receives, derived from its `args`. */
export type ArgsOf<A extends readonly string[]> = { readonly [I in keyof A]: ArgOf<A[I] & string> };

export interface CommandSpec<A extends readonly string[] = readonly string[], O extends readonly OptionSpec[] = readonly OptionSpec[]> {
  readonly name: string;
  readonly summary: string;
  /** Positional arguments in commander syntax: `<file>`, `[files...]`. */
  readonly args: A;
  readonly options: O;
  /** One or two lines shown under the command's help. */
  readonly example?: string;
  run(args: ArgsOf<A>, options: OptionsOf<O>, io: Io): Promise<ExitCode>;
}

/** A command of the table, its run typed by its own arguments and options. */
export function defineCommand<const A extends readonly string[], const O extends readonly OptionSpec[]>(spec: CommandSpec<A, O>): CommandSpec {
  return spec as unknown as CommandSpec;
}
