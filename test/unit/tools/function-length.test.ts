import { describe, expect, it } from 'vitest';
import { labPath } from '../../../core/paths.js';
import { longFunctions } from '../../../tools/function-length.js';

describe('function length', () => {
  it('no function in runner/ or analysis/ is over 80 lines', () => {
    expect(longFunctions(labPath(), ['runner', 'analysis'], 80)).toEqual([]);
  });

  it('finds a long one (the finder itself is checked)', () => {
    // domainXml (infra/domain-xml.ts) is over 40 lines.
    expect(longFunctions(labPath(), ['infra'], 40).some((f) => f.file === 'infra/domain-xml.ts' && f.name === 'domainXml')).toBe(true);
  });
});
