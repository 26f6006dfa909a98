/**
 * The set-up every VM test shares: the lab image, a directory holding the
 * test's scenario file, and no guest of that scenario left before or after.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import type { Image } from '../../guest-images/build.js';
import { down, LOCAL } from '../../infra/up.js';
import { labImage } from './lab-image.js';

export interface VmScenario {
  /** The directory (set in beforeAll). */
  dir: string;
  /** The scenario file in it. */
  file: string;
  image: Image;
}

/** Registers beforeAll/afterAll for a scenario named `name` with this YAML text. */
export function useVmScenario(name: string, text: string): VmScenario {
  const s = {} as VmScenario;
  beforeAll(async () => {
    s.image = await labImage();
    s.dir = await mkdtemp(join(tmpdir(), `iommu-lab-${name}-`));
    s.file = join(s.dir, `${name}.yaml`);
    await writeFile(s.file, text);
    await down([LOCAL], { scenario: name });
  });
  afterAll(async () => {
    await down([LOCAL], { scenario: name });
    if (s.dir) await rm(s.dir, { recursive: true, force: true });
  });
  return s;
}
