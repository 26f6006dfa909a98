import { execa } from 'execa';
import { buildImage, type Image } from '../../guest-images/build.js';
import { labPath } from '../../core/paths.js';

/** The guest image for VM tests: built once (about 2–3 minutes), a cache hit afterwards. */
export async function labImage(): Promise<Image> {
  await execa(labPath('scripts', 'start-libvirtd.sh'));
  return buildImage({ onLog: (l) => process.stderr.write(`${l}\n`) });
}
