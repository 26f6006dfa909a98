/**
 * The `iommu-lab` command. Builds a commander program from the command table,
 * runs it, and turns errors into exit codes: 0 success, 1 a failed run, 2 bad
 * input. Known errors print without a stack; anything else is a bug: one line,
 * and the stack in a file the line names.
 */
import { closeRemoteLinks } from '../infra/hypervisor.js';
import { Command, CommanderError, Option } from 'commander';
import { readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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
      // Their shapes are what each command's table says (cli/table.ts ArgsOf, OptionsOf): commander built them from it.
      const args = received.slice(0, spec.args.length) as Parameters<typeof spec.run>[0];
      const options = received[spec.args.length] as Parameters<typeof spec.run>[1];
      setExit(await spec.run(args, options, io));
    });
  }
  return program;
}

function firstLine(e: unknown): string {
  return e instanceof Error ? `${e.name}: ${e.message.split('\n')[0]}` : String(e).split('\n')[0]!;
}

/** Where an unexpected error's stack goes: a file, so the user sees one line and the report has everything. */
function writeTrace(e: unknown, argv: readonly string[]): string {
  const file = join(tmpdir(), `iommu-lab-error-${new Date().toISOString().replace(/[:.]/g, '-')}-${process.pid}.txt`);
  try {
    writeFileSync(file, [`iommu-lab ${VERSION} ${argv.join(' ')}`, `node ${process.version} ${process.platform}`, '', e instanceof Error ? e.stack ?? String(e) : String(e), ''].join('\n'));
    return file;
  } catch {
    return `(could not write ${file}) ${e instanceof Error ? e.stack : String(e)}`;
  }
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
    io.err(`iommu-lab: unexpected error: ${firstLine(e)} (a bug in the lab; the full trace is in ${writeTrace(e, argv)}, please report it with that file)`);
    return EXIT.failed;
  } finally {
    // Connections to remote hypervisors would keep the process alive.
    await closeRemoteLinks();
  }
}

export const processIo: Io = {
  out: (t) => process.stdout.write(`${t}\n`),
  err: (t) => process.stderr.write(`${t}\n`),
  isTTY: Boolean(process.stderr.isTTY),
  columns: process.stderr.columns ?? 100,
};
