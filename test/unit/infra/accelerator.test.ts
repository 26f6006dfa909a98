import { describe, expect, it } from 'vitest';
import { mustUseTcg } from '../../../infra/guest.js';

describe('which guests run under TCG whatever the host offers', () => {
  it('a guest of this machine with the QEMU plugin (the default): its exact counts need TCG', () => {
    expect(mustUseTcg({ clock: 'tcg' }, false, false)).toBe(true);
    expect(mustUseTcg({ clock: 'tcg', profiler: true }, false, false)).toBe(true);
  });
  it('without the plugin, or on another hypervisor host (no plugin there), the host may offer KVM', () => {
    expect(mustUseTcg({ clock: 'tcg', profiler: false }, false, false)).toBe(false);
    expect(mustUseTcg({ clock: 'tcg' }, true, false)).toBe(false);
  });
  it('an instruction-count clock, or a host whose KVM refused QEMU, is TCG in any case', () => {
    expect(mustUseTcg({ clock: 'virtual', profiler: false }, true, false)).toBe(true);
    expect(mustUseTcg({ clock: 'icount', profiler: false }, false, false)).toBe(true);
    expect(mustUseTcg({ clock: 'tcg', profiler: false }, false, true)).toBe(true);
  });
});
