import { EXIT, ImageCorruptError, UsageError } from '../../core/errors.js';
import { buildImage, cacheRoot, listImages, verifyImage } from '../../guest-images/build.js';
import { recipeHash } from '../../guest-images/recipe.js';
import { table } from '../render.js';
import { defineCommand } from '../table.js';
import { jsonOption } from '../options.js';

export const imageCommand = defineCommand({
  name: 'image',
  summary: 'Guest images: build (a cache hit when the recipe is unchanged), list, verify (re-hash against the manifest).',
  args: ['<action>', '[dir]'],
  options: [
    { flags: '--force', description: 'build: rebuild even when the recipe is cached' },
    jsonOption('results'),
  ],
  example: 'sudo iommu-lab image build && iommu-lab image verify',
  async run(args, options, io) {
    const action = args[0];
    switch (action) {
      case 'build': {
        const t0 = Date.now();
        const img = await buildImage({ force: Boolean(options.force), onLog: (l) => io.err(l) });
        if (options.json) io.out(JSON.stringify({ ...img, seconds: (Date.now() - t0) / 1000 }, null, 2));
        else io.out(`${img.cached ? 'cached' : 'built'}: ${img.dir}\n  digest ${img.manifest.digest}\n  kernels ${img.manifest.kernels.map((k) => k.version).join(', ')}\n  build took ${img.manifest.build_seconds} s${img.cached ? ' (earlier)' : ''}`);
        return EXIT.ok;
      }
      case 'list': {
        const imgs = await listImages();
        const current = recipeHash();
        if (options.json) {
          io.out(JSON.stringify(imgs.map((i) => ({ dir: i.dir, current: i.manifest.recipe.hash === current, digest: i.manifest.digest, created: i.manifest.created, kernels: i.manifest.kernels.map((k) => k.version) })), null, 2));
        } else if (imgs.length === 0) {
          io.out(`no images in ${cacheRoot()}/images (build one: iommu-lab image build)`);
        } else {
          io.out(table(['recipe', 'current', 'created', 'kernels', 'digest'], imgs.map((i) => [i.manifest.recipe.hash.slice(0, 12), i.manifest.recipe.hash === current ? 'yes' : '', i.manifest.created, i.manifest.kernels.map((k) => k.version).join(' '), i.manifest.digest.slice(0, 19)])));
        }
        return EXIT.ok;
      }
      case 'verify': {
        const dirs = args[1] ? [args[1]] : (await listImages()).map((i) => i.dir);
        if (dirs.length === 0) throw new UsageError(`no images in ${cacheRoot()}/images`, 'build one: iommu-lab image build');
        let bad = 0;
        for (const dir of dirs) {
          const r = await verifyImage(dir);
          if (r.ok) io.out(`ok  ${dir}`);
          else {
            bad++;
            io.out(`BAD ${dir}\n${r.problems.map((p) => `  ${p}`).join('\n')}`);
          }
        }
        if (bad) throw new ImageCorruptError(`${bad} image(s) do not match their manifest`, { fix: 'rebuild: iommu-lab image build --force' });
        return EXIT.ok;
      }
      default:
        throw new UsageError(`unknown image action "${action}"`, 'use build, list or verify');
    }
  },
});
