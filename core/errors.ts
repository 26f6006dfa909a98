/**
 * Errors the lab expects. Each has a stable `code` (for scripts and tests), a
 * `fix` that tells the user what to do, and the exit code the CLI should use.
 * Known errors print without a stack; anything else is a bug and prints with it.
 */

export const EXIT = { ok: 0, failed: 1, badInput: 2 } as const;
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

export interface LabErrorOptions {
  readonly fix?: string;
  readonly cause?: unknown;
  readonly exitCode?: ExitCode;
}

export class LabError extends Error {
  readonly code: string;
  readonly fix: string | undefined;
  readonly exitCode: ExitCode;

  constructor(code: string, message: string, options: LabErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'LabError';
    this.code = code;
    this.fix = options.fix;
    this.exitCode = options.exitCode ?? EXIT.failed;
  }

  /** What the CLI prints: message, then the fix, never a stack. */
  format(): string {
    const lines = [`error[${this.code}]: ${this.message}`];
    if (this.fix) lines.push(`  fix: ${this.fix}`);
    return lines.join('\n');
  }
}

/** One thing wrong in an input file, located to the character. */
export interface Problem {
  readonly file: string;
  readonly line: number;
  readonly column: number;
  /** Dotted path of the offending key, e.g. `workloads[0].iodepth`; empty for the whole document. */
  readonly path: string;
  readonly message: string;
  readonly fix?: string;
}

export function formatProblem(p: Problem): string {
  const where = `${p.file}:${p.line}:${p.column}`;
  const at = p.path ? `${p.path}: ` : '';
  return `${where}: ${at}${p.message}${p.fix ? `\n  fix: ${p.fix}` : ''}`;
}

/** Input that does not validate: every problem found, not just the first. Exit code 2. */
export class InvalidInputError extends LabError {
  readonly problems: readonly Problem[];

  constructor(problems: readonly Problem[], code = 'E_INVALID_INPUT') {
    const files = [...new Set(problems.map((p) => p.file))].join(', ');
    super(code, `${problems.length} problem${problems.length === 1 ? '' : 's'} in ${files}`, {
      exitCode: EXIT.badInput,
    });
    this.name = 'InvalidInputError';
    this.problems = problems;
  }

  override format(): string {
    return [`error[${this.code}]: ${this.message}`, ...this.problems.map(formatProblem)].join('\n');
  }
}

/** A bad command line (missing file, unknown option value). Exit code 2. */
export class UsageError extends LabError {
  constructor(message: string, fix?: string) {
    super('E_USAGE', message, { fix, exitCode: EXIT.badInput });
    this.name = 'UsageError';
  }
}

export function isLabError(e: unknown): e is LabError {
  return e instanceof LabError;
}
