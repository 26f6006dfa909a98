/**
 * The window's I/Os from the test disks' block statistics
 * (/sys/class/block/DEV/stat, read by runner/detached.sh just before the start
 * marker and just after the stop marker): reads + writes completed, fields 1
 * and 5 (Documentation/block/stat.rst). Requests, as the device saw them: one
 * per I/O for the lab's small direct I/Os. Pure.
 */

/** `PATH f1 f2 …` lines → completed requests per disk path. */
function completed(text: string): Map<string, number> {
  const m = new Map<string, number>();
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length < 6) continue;
    m.set(f[0]!, Number(f[1]) + Number(f[5]));
  }
  return m;
}

/** Requests the test disks completed between the two readings; undefined when a disk is missing from either. */
export function windowIos(before: string, after: string): number | undefined {
  const a = completed(before);
  const b = completed(after);
  if (a.size === 0 || a.size !== b.size) return undefined;
  let n = 0;
  for (const [disk, v] of a) {
    const w = b.get(disk);
    if (w === undefined || !Number.isFinite(v) || !Number.isFinite(w)) return undefined;
    n += w - v;
  }
  return n;
}
