/** A results root that cannot be written is an input error that names it, before anything runs. */
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ensureResultsRoot } from '../../../result/root.js';
import { runCli } from '../../helpers/run-cli.js';
import { useTmpDir } from '../../helpers/tmp.js';

const tmp = useTmpDir();

describe('the results root', () => {
  it('is made when missing, and leaves nothing behind from its write test', async () => {
    const d = await tmp();
    const root = await ensureResultsRoot(join(d, 'a', 'results'));
    expect(root).toBe(join(d, 'a', 'results'));
    expect(await readdir(root)).toEqual([]);
  });

  it('refuses a path through a file with E_RESULTS_ROOT, exit 2, naming the directory and the cause', async () => {
    const d = await tmp();
    await writeFile(join(d, 'file'), '');
    const e = await ensureResultsRoot(join(d, 'file', 'results')).catch((x: unknown) => x);
    expect(e).toMatchObject({ code: 'E_RESULTS_ROOT', exitCode: 2 });
    expect((e as Error).message).toBe(`the results root ${join(d, 'file', 'results')} cannot be written: a part of the path is a file, not a directory (ENOTDIR)`);
  });

  it('the sweep says so and exits 2 before it boots anything', async () => {
    const d = await tmp();
    await writeFile(join(d, 'file'), '');
    const r = await runCli('sweep', 'scenarios/quick.yaml', '--results', join(d, 'file', 'results'));
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('error[E_RESULTS_ROOT]: the results root');
    expect(r.stderr).toContain('--results DIR');
    expect(r.stderr).not.toMatch(/unexpected|stack/i);
  });
});
