import { describe, expect, it } from 'vitest';
import type { Cell } from '../../../cell/types.js';
import { interleave } from '../../../runner/order.js';

const cell = (id: string, target = 't1'): Cell => ({
  id, index: 0, disk: 'd', axes: {}, iommu: { device: 'intel', mode: 'strict' },
  target: { kind: 'vm', profile: 'p', kernel: '6.12', kernelAxis: false, name: target },
  job: { workload: 'w', rw: 'randread', bs: '4k', iodepth: 1, numjobs: 1, ioengine: 'libaio', size: '1m', runtime: 1, ramp_time: 0, direct: true, options: {} },
});

describe('interleave', () => {
  const cells = ['a', 'b', 'c', 'd'].map((id) => cell(id)).concat([cell('x', 't2')]);

  it('runs every repetition once, round by round, per target', () => {
    const plan = interleave(cells, { timing: 3, traced: 1 }, 7);
    const t1 = plan.get('t1')!;
    expect(t1).toHaveLength(4 * 4);
    // Round r holds repetition r of every cell before any repetition r+1 starts.
    const round1 = t1.slice(0, 8).map((t) => `${t.cell.id}/${t.rep.kind}${t.rep.index}`);
    expect(new Set(round1)).toEqual(new Set(['a', 'b', 'c', 'd'].flatMap((c) => [`${c}/timing1`, `${c}/traced1`])));
    expect(t1.map((t) => t.order)).toEqual(t1.map((_, i) => i));
    expect(plan.get('t2')!.map((t) => t.rep.index)).toEqual([1, 2, 3, 1].sort());
  });

  it('is the same for the same seed, different for another', () => {
    const ids = (seed: number) => interleave(cells, { timing: 5, traced: 0 }, seed).get('t1')!.map((t) => t.cell.id).join('');
    expect(ids(1)).toBe(ids(1));
    expect(ids(1)).not.toBe(ids(2));
  });

  it('does not run the cells in the same order every round', () => {
    const t1 = interleave(cells, { timing: 6, traced: 0 }, 3).get('t1')!;
    const rounds = new Set([0, 1, 2, 3, 4, 5].map((r) => t1.slice(r * 4, r * 4 + 4).map((t) => t.cell.id).join('')));
    expect(rounds.size).toBeGreaterThan(1);
  });

  it('with boots: runs every repetition of a boot before the next boot, timing and traced split alike', () => {
    const t1 = interleave(cells, { timing: 6, traced: 2 }, 3, (c) => c.target.name, () => 2).get('t1')!;
    expect(t1).toHaveLength(4 * 8);
    const boots = t1.map((t) => t.boot);
    expect(boots).toEqual([...boots].sort());
    expect(t1.filter((t) => t.boot === 1).map((t) => `${t.rep.kind}${t.rep.index}`).sort()).toEqual(['timing1', 'timing2', 'timing3', 'traced1'].flatMap((r) => [r, r, r, r]).sort());
    expect(t1.map((t) => t.order)).toEqual(t1.map((_, i) => i));
  });
});
