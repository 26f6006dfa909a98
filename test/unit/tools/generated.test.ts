import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { labPath } from '../../../core/paths.js';
import { generatedFiles } from '../../../tools/generate.js';

describe('generated files', () => {
  for (const [rel, text] of Object.entries(generatedFiles())) {
    it(`${rel} is up to date (run \`npm run generate\` if not)`, async () => {
      expect(await readFile(labPath(rel), 'utf8')).toBe(text);
    });
  }
});
