/**
 * The plugin's window file (infra/profiler/profile.c, OUT/window-SEQ.tsv):
 * how often each kernel block ran between the guest's start and stop
 * markers, and the user-mode instructions of the window. Pure.
 */

export interface Block {
  readonly pc: bigint;
  readonly insns: number;
  readonly execs: number;
}

export interface Window {
  readonly seq: number;
  readonly vcpus: number;
  readonly mode: 'inline' | 'callback';
  readonly blocks: readonly Block[];
  readonly userInsns: number;
  /** Kernel instructions in blocks past the plugin's slot limit (not attributable). */
  readonly overflowInsns: number;
}

export function parseWindow(text: string): Window {
  if (!text.startsWith('# iommu-lab-profile window')) throw new Error('not an iommu-lab-profile window file');
  if (!/\nend\n?$/.test(text)) throw new Error('the window file is truncated (no end line)');
  let seq = NaN;
  let vcpus = NaN;
  let mode: Window['mode'] = 'inline';
  let userInsns = 0;
  let overflowInsns = 0;
  const blocks: Block[] = [];
  for (const line of text.split('\n')) {
    const f = line.split('\t');
    switch (f[0]) {
      case 'b': blocks.push({ pc: BigInt(`0x${f[1]}`), insns: Number(f[2]), execs: Number(f[3]) }); break;
      case 'user': userInsns = Number(f[1]); break;
      case 'overflow': overflowInsns = Number(f[1]); break;
      case 'seq': seq = Number(f[1]); break;
      case 'vcpus': vcpus = Number(f[1]); break;
      case 'mode': mode = f[1] === 'callback' ? 'callback' : 'inline'; break;
    }
  }
  if (!Number.isInteger(seq)) throw new Error('the window file has no seq line');
  return { seq, vcpus, mode, blocks, userInsns, overflowInsns };
}
