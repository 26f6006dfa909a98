/** Where CI systems and people look for the latest night of a scenario: fixed paths under the results root. */
import { copyFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { ReportFiles } from '../analysis/report/write.js';

export async function publishLatest(root: string, scenario: string, files: ReportFiles): Promise<string> {
  const latest = join(root, 'latest', scenario);
  await mkdir(latest, { recursive: true });
  for (const [from, to] of [[files.markdown, 'summary.md'], [files.text, 'summary.txt'], [files.junit, 'junit.xml'], [files.html, 'report.html'], [files.json, 'report.json']] as const) await copyFile(from, join(latest, to));
  return latest;
}
