/**
 * Benjamini–Hochberg adjusted p-values (q-values): controls the false discovery
 * rate over the whole matrix, which with dozens of cells × metrics matters more
 * than any single test's α. NaN entries (tests that could not run) stay NaN and
 * do not count toward m.
 */
export function benjaminiHochberg(p: readonly number[]): number[] {
  if (!Array.isArray(p)) throw new RangeError(`benjaminiHochberg: p must be an array of p-values, got ${String(p)}`);
  p.forEach((v, i) => {
    if (typeof v !== 'number' || (!Number.isNaN(v) && !(v >= 0 && v <= 1))) throw new RangeError(`benjaminiHochberg: p[${i}] must be a p-value in [0, 1] (or NaN for a test that could not run), got ${v}`);
  });
  const idx = p.map((v, i) => [v, i] as const).filter(([v]) => Number.isFinite(v));
  const m = idx.length;
  const out = p.map(() => NaN);
  idx.sort((a, b) => a[0] - b[0]);
  let running = 1;
  for (let r = m; r >= 1; r--) {
    const [v, i] = idx[r - 1]!;
    running = Math.min(running, (v * m) / r);
    out[i] = Math.min(1, running);
  }
  return out;
}
