import { defineConfig } from 'vitest/config';

/**
 * Three projects, each with its own timeouts:
 *  - unit: pure code and the local file system; seconds in all.
 *  - integration: real services started by the tests (OpenSSH on loopback,
 *    fio, libvirt's test driver, virt-xml-validate, headless Chromium).
 *  - vm: real QEMU/TCG guests; minutes per test, run one file at a time.
 *  - faults: faults injected into real sweeps on a real guest (docs/runner.md).
 */
export default defineConfig({
  test: {
    // Files run one after another: integration and VM tests start real
    // services and guests, and this lab's CI machine has two cores.
    fileParallelism: false,
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
          testTimeout: 10_000,
        },
      },
      {
        test: {
          name: 'integration',
          // The compiled lab in dist/ loads natively: Pulumi serializes the dynamic provider's
          // functions, and vite's transform would put its own import helper into them.
          server: { deps: { external: [/\/dist\//] } },
          include: ['test/integration/**/*.test.ts'],
          testTimeout: 120_000,
          hookTimeout: 120_000,
        },
      },
      {
        test: {
          name: 'vm',
          server: { deps: { external: [/\/dist\//] } },
          include: ['test/vm/**/*.test.ts'],
          testTimeout: 1_800_000,
          hookTimeout: 900_000,
          // Emulated guests crash at random now and then, outside anything a test injects (seen on
          // 2026-12-01: a guest kernel panic 12 s into a boot, fio aborting with SIGABRT on a fresh
          // guest): a failing test runs once more, and must pass whole then. The lab names and heals
          // such crashes itself; the retry covers the tests' own expectations of a clean run.
          retry: 1,
        },
      },
      {
        test: {
          name: 'faults',
          server: { deps: { external: [/\/dist\//] } },
          include: ['test/faults/**/*.test.ts'],
          testTimeout: 900_000,
          hookTimeout: 900_000,
          // As for the VM tests: one more try when an emulated guest crashes on its own.
          retry: 1,
        },
      },
    ],
  },
});
