/**
 * Screenshots of a run's HTML report, one PNG per section, as a reader sees
 * them in Chromium (the pictures in docs/ come from here).
 *
 * Usage: npm run screenshots -- RUN_DIR OUT_DIR
 * Needs Debian's chromium (scripts/setup.sh --test installs it; CHROMIUM= to use another).
 */
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { chromium } from 'playwright-core';

const [runDir, outDir] = process.argv.slice(2);
if (!runDir || !outDir) {
  process.stderr.write('usage: npm run screenshots -- RUN_DIR OUT_DIR\n');
  process.exit(2);
}
const html = resolve(runDir, 'report', 'report.html');
if (!existsSync(html)) {
  process.stderr.write(`${html} does not exist: iommu-lab report ${runDir} writes it\n`);
  process.exit(2);
}
const browser = await chromium.launch({ executablePath: process.env['CHROMIUM'] ?? '/usr/bin/chromium', args: ['--no-sandbox', '--disable-gpu'] });
try {
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`file://${html}`);
  await page.waitForSelector('body[data-charts]');
  await mkdir(outDir, { recursive: true });
  const sections = page.locator('section');
  const n = await sections.count();
  for (let i = 0; i < n; i++) {
    const title = ((await sections.nth(i).locator('h2').first().textContent()) ?? `section-${i + 1}`).toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 48);
    const file = join(outDir, `report-${String(i + 1).padStart(2, '0')}-${title}.png`);
    await sections.nth(i).screenshot({ path: file });
    process.stdout.write(`${file}\n`);
  }
  await page.locator('header').screenshot({ path: join(outDir, 'report-00-headline.png') });
  if (errors.length) {
    process.stderr.write(`script errors on the page:\n${errors.join('\n')}\n`);
    process.exitCode = 1;
  }
} finally {
  await browser.close();
}
