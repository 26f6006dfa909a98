/**
 * The `iommu-lab` command. Builds a commander program from the command table,
 * runs it, and turns errors into exit codes: 0 success, 1 a failed run, 2 bad
 * input. Known errors print without a stack; anything else is a bug and does.
 */
import { Command, CommanderError, Option } from 'commander';
import { readFileSync } from 'node:fs';
import { EXIT, isLabError, type ExitCode } from '../core/errors.js';
import { labPath } from '../core/paths.js';
import { COMMANDS } from './commands/index.js';
import type { Io } from './table.js';

const VERSION = (JSON.parse(readFileSync(labPath('package.json'), 'utf8')) as { version: string }).version;

export function buildProgram(io: Io, setExit: (code: ExitCode) => void): Command {
  const program = new Command('iommu-lab')
    .description('A reproducible performance lab for IOMMU configurations: emulated and real, with statistics you can trust.')
    .version(VERSION)
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.out(s.trimEnd()), writeErr: (s) => io.err(s.trimEnd()) });
  for (const spec of COMMANDS) {
    const cmd = program.command(spec.name).description(spec.summary).exitOverride();
    for (const a of spec.args) cmd.argument(a);
    for (const o of spec.options) {
      const opt = new Option(o.flags, o.description);
      if (o.default !== undefined) opt.default(o.default);
      cmd.addOption(opt);
    }
    if (spec.example) cmd.addHelpText('after', `\nExample:\n  ${spec.example}`);
    cmd.action(async (...received: unknown[]) => {
      // commander passes positional args, then the options object, then the command.
      const args = received.slice(0, spec.args.length);
      const options = received[spec.args.length] as Record<string, unknown>;
      setExit(await spec.run(args, options, io));
    });
  }
  return program;
}

export async function main(argv: readonly string[], io: Io): Promise<ExitCode> {
  let code: ExitCode = EXIT.ok;
  const program = buildProgram(io, (c) => (code = c));
  try {
    await program.parseAsync(argv as string[], { from: 'user' });
    return code;
  } catch (e) {
    if (e instanceof CommanderError) {
      // --help and --version arrive here as "errors" with exit code 0.
      return e.exitCode === 0 ? EXIT.ok : EXIT.badInput;
    }
    if (isLabError(e)) {
      io.err(e.format());
      return e.exitCode;
    }
    io.err(`iommu-lab: unexpected error (a bug; please report it with this output):\n${(e as Error)?.stack ?? String(e)}`);
    return EXIT.failed;
  }
}

export const processIo: Io = {
  out: (t) => process.stdout.write(`${t}\n`),
  err: (t) => process.stderr.write(`${t}\n`),
  isTTY: Boolean(process.stderr.isTTY),
  columns: process.stderr.columns ?? 100,
};
