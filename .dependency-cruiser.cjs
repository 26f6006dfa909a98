/**
 * The lab's layering, checked by `npm test` (npm run check:layers). Folders
 * are stages, lowest first; a module may import from its own stage or a lower
 * one, never from a higher one, and no import cycle is allowed anywhere.
 *
 *   core          errors, metrics, IOMMU configurations, clocks, atomic files: what everything shares
 *   guest-images  what a guest boots: images, the user's kernels and what they must be configured with
 *   scenario      the user's YAML, validated (it checks the kernels it names against guest-images)
 *   cell          the matrix: cells, repetitions, order
 *   inventory     what is up and how to reach it
 *   transport     SSH: sessions, files, tunnels (infra and runner both speak it)
 *   infra         guests, hypervisor hosts, provisioners, the QEMU plugin
 *   result        the results store and the result format (the disk boundary)
 *   runner        preflight, workloads, tracing, exact counts, the run loop
 *   analysis      comparisons, verdicts, reports
 *   sweep         the use cases that chain them: sweep, repro, bisect, merge
 *   cli           the command line
 * tools/ and bench/ may import any stage; nothing in a stage imports them.
 */
const STAGES = ['core', 'guest-images', 'scenario', 'cell', 'inventory', 'transport', 'infra', 'result', 'runner', 'analysis', 'sweep', 'cli'];

module.exports = {
  forbidden: [
    ...STAGES.slice(0, -1).map((stage, i) => ({
      name: `no-climb-from-${stage}`,
      severity: 'error',
      comment: `${stage}/ is below ${STAGES.slice(i + 1).join(', ')}: it must not import them (.dependency-cruiser.cjs says why each stage sits where it does)`,
      from: { path: `^${stage}/` },
      to: { path: `^(${STAGES.slice(i + 1).join('|')})/` },
    })),
    {
      name: 'no-stage-imports-tools-or-bench',
      severity: 'error',
      comment: 'tools/ and bench/ sit above every stage',
      from: { path: `^(${STAGES.join('|')})/` },
      to: { path: '^(tools|bench|test)/' },
    },
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'an import cycle ties modules that should each have one direction',
      from: {},
      to: { circular: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(dist|node_modules)/' },
    tsPreCompilationDeps: true,
    // With the TypeScript configuration, './x.js' (NodeNext) resolves to x.ts.
    tsConfig: { fileName: 'tsconfig.test.json' },
  },
};
