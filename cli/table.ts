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

export interface CommandSpec {
  readonly name: string;
  readonly summary: string;
  /** Positional arguments in commander syntax: `<file>`, `[files...]`. */
  readonly args: readonly string[];
  readonly options: readonly OptionSpec[];
  /** One or two lines shown under the command's help. */
  readonly example?: string;
  readonly run: (args: readonly unknown[], options: Record<string, unknown>, io: Io) => Promise<ExitCode>;
}
