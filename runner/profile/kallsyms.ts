/**
 * The guest kernel's text symbols from /proc/kallsyms (read as root at each
 * boot's preflight: module addresses differ from boot to boot), as a sorted
 * table that finds the function containing an address. A function ends where
 * the next text symbol begins.
 */

export interface KernelFunction {
  readonly start: bigint;
  readonly name: string;
  /** The module it lives in; absent for the core kernel. */
  readonly module?: string;
}

export class KernelSymbols {
  private constructor(private readonly functions: readonly KernelFunction[]) {}

  /** Parses kallsyms text: `ADDRESS TYPE NAME [MODULE]`; keeps text symbols (t, T, w, W). Throws when addresses are hidden (all zero: not root, or kptr_restrict). */
  static parse(text: string): KernelSymbols {
    const fns: KernelFunction[] = [];
    let zero = 0;
    for (const line of text.split('\n')) {
      const m = /^([0-9a-f]+) ([tTwW]) (\S+)(?:\s+\[(\S+)\])?/.exec(line);
      if (!m) continue;
      const start = BigInt(`0x${m[1]}`);
      if (start === 0n) {
        zero++;
        continue;
      }
      fns.push({ start, name: m[3]!, ...(m[4] ? { module: m[4] } : {}) });
    }
    if (fns.length === 0) throw new Error(zero ? 'kallsyms shows every address as 0 (read it as root, with kernel.kptr_restrict below 2)' : 'kallsyms has no text symbols');
    fns.sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
    return new KernelSymbols(fns);
  }

  get size(): number {
    return this.functions.length;
  }

  /** The function whose code holds `address` (the last symbol at or below it), or undefined below the first. */
  at(address: bigint): KernelFunction | undefined {
    const f = this.functions;
    let lo = 0;
    let hi = f.length - 1;
    if (hi < 0 || address < f[0]!.start) return undefined;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (f[mid]!.start <= address) lo = mid;
      else hi = mid - 1;
    }
    return f[lo];
  }
}
