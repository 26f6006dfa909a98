/**
 * A repetition's exact counts: the QEMU plugin's window of its workload
 * (runner/profile/), per I/O over the test disks' requests (fio), the
 * benchmark's maps, or the packets the test link's NICs sent (network, with
 * its MiB for the per-MiB counts).
 */
import { ProfilerWindowError } from '../core/errors.js';
import { repId, type Check } from '../result/types.js';
import type { DetachedResult } from './detached.js';
import { windowIos } from './profile/disk-stats.js';
import { windowTraffic } from './network-parse.js';
import type { Profiled } from './profile/guest.js';
import type { RepetitionContext } from './timed.js';

/**
 * The plugin's counts of a timing repetition's workload, or undefined where the target has no plugin
 * (then a failed `profiler` check says why, where an emulated guest should have had it). A window that
 * is missing or unreadable fails the repetition: it never passes with counts quietly left out.
 */
export async function profiledWindow(ctx: RepetitionContext, res: DetachedResult, checks: Check[], ios: 'disk-stats' | 'dma-map-calls' | 'nic-stats' = 'disk-stats'): Promise<Profiled | undefined> {
  const p = ctx.st.profiler;
  if (p.state === 'unavailable') checks.push({ name: 'profiler', ok: false, detail: `no exact counts: ${p.why}` });
  if (p.state !== 'ready') return undefined;
  const what = `${ctx.task.cell.id} ${repId(ctx.task.rep)}`;
  const w = await p.guest.takeWindow(what);
  if (ios === 'dma-map-calls') return p.guest.profile(w, undefined, what);
  if (ios === 'nic-stats') {
    const t = res.diskStats ? windowTraffic(res.diskStats.before, res.diskStats.after) : undefined;
    if (t === undefined) throw new ProfilerWindowError(`${what}: the test NICs' counters around the window could not be read`, { detail: res.diskStats ? `${res.diskStats.before}\n--\n${res.diskStats.after}` : 'none' });
    return p.guest.profile(w, t.packets, what, t.bytes);
  }
  const n = res.diskStats ? windowIos(res.diskStats.before, res.diskStats.after) : undefined;
  if (n === undefined) throw new ProfilerWindowError(`${what}: the test disks' block statistics around the window could not be read`, { detail: res.diskStats ? `${res.diskStats.before}\n--\n${res.diskStats.after}` : 'none' });
  return p.guest.profile(w, n, what);
}

