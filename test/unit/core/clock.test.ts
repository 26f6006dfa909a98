import { describe, expect, it } from 'vitest';
import { bootsSideBySide } from '../../../core/clock.js';

describe('how many guests of one host boot side by side', () => {
  it('one per CPU only for guests of this machine that all park when idle (the virtual clock)', () => {
    expect(bootsSideBySide(true, ['virtual', 'virtual'], 2)).toBe(2);
    expect(bootsSideBySide(true, ['virtual', 'tcg'], 2)).toBe(1);
    expect(bootsSideBySide(true, ['tcg'], 8)).toBe(1);
    expect(bootsSideBySide(false, ['virtual'], 8)).toBe(1);
  });
});
