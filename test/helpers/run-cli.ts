import { execa } from 'execa';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Report } from '../../analysis/report/model.js';
import { main } from '../../cli/main.js';

export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs the CLI in-process with captured output (the integration tests also run the real binary). */
export async function runCli(...argv: string[]): Promise<CliResult> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(argv, { out: (t) => out.push(t), err: (t) => err.push(t), isTTY: false, columns: 120 });
  return { code, stdout: out.join('\n'), stderr: err.join('\n') };
}

/** Runs the real binary (`node bin/iommu-lab.js`, the compiled lab), as a user would; never throws on a non-zero exit. */
export function runBin(args: readonly string[]) {
  return execa('node', ['bin/iommu-lab.js', ...args], { reject: false, all: true });
}

/** The report.json of the run whose summary a sweep or merge printed (`summary: RUN/report/summary.md`). */
export async function printedReport(stdout: string): Promise<Report> {
  const run = /summary: (.*)\/report\/summary\.md/.exec(stdout)?.[1];
  if (!run) throw new Error(`no "summary:" line in:\n${stdout}`);
  return JSON.parse(await readFile(join(run, 'report', 'report.json'), 'utf8')) as Report;
}
