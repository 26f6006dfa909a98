/** Writes a report's five files, each atomically: a crash never leaves half a report where CI picks it up. */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic, writeJsonAtomic } from '../../core/atomic.js';
import { renderHtml } from './html.js';
import { renderJUnit } from './junit.js';
import { renderMarkdown } from './markdown.js';
import { renderText } from './text.js';
import type { Report } from './model.js';

export interface ReportFiles {
  readonly html: string;
  readonly markdown: string;
  /** Plain text for email, 72 columns (text.ts). */
  readonly text: string;
  readonly junit: string;
  readonly json: string;
}

export async function writeReport(report: Report, outDir: string): Promise<ReportFiles> {
  await mkdir(outDir, { recursive: true });
  const files: ReportFiles = {
    html: join(outDir, 'report.html'),
    markdown: join(outDir, 'summary.md'),
    text: join(outDir, 'summary.txt'),
    junit: join(outDir, 'junit.xml'),
    json: join(outDir, 'report.json'),
  };
  await writeFileAtomic(files.html, renderHtml(report));
  await writeFileAtomic(files.markdown, renderMarkdown(report));
  await writeFileAtomic(files.text, renderText(report));
  await writeFileAtomic(files.junit, renderJUnit(report));
  await writeJsonAtomic(files.json, report);
  return files;
}
