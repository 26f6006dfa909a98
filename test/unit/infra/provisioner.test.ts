/**
 * The Pulumi provisioner's commands (the Pulumi CLI cannot be installed here;
 * its program and provider are tested under mocks and against real libvirt in
 * test/integration/infra/pulumi-program.test.ts and test/vm/pulumi-provider.test.ts).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { pulumiCommands, pulumiProvisioner } from '../../../infra/provisioner.js';
import { useTmpDir } from '../../helpers/tmp.js';

const tmp = useTmpDir();
const INVENTORY = { version: 1, created: '2026-11-25T00:00:00Z', source: 'pulumi', targets: [] };

describe('the Pulumi provisioner', () => {
  it('refreshes and updates the stack, writes its inventory, and destroys the same stack', async () => {
    const calls: string[][] = [];
    const p = pulumiProvisioner('quick', async (args) => { calls.push([...args]); return args[0] === 'stack' ? JSON.stringify(INVENTORY) : ''; });
    expect(await p.down()).toEqual([]); // nothing brought up, nothing taken down
    const file = join(await tmp(), 'inv.json');
    const inv = await p.up({ inventoryFile: file } as never);
    expect(inv.inventory.source).toBe('pulumi');
    expect(inv.failed).toEqual([]);
    expect(JSON.parse(await readFile(file, 'utf8'))).toEqual(INVENTORY);
    expect(await p.down()).toEqual(['stack quick']);
    expect(calls).toEqual([...pulumiCommands('quick').up, ...pulumiCommands('quick').down]);
    expect(calls[0]).toEqual(['up', '--yes', '--skip-preview', '--refresh', '--stack', 'quick']);
    expect(calls[2]).toEqual(['destroy', '--yes', '--skip-preview', '--stack', 'quick']);
  });

  it('refuses part of the matrix, which only the direct provisioner can bring up', async () => {
    const p = pulumiProvisioner('quick', async () => '');
    await expect(p.up({ only: ['g'], inventoryFile: 'x' } as never)).rejects.toMatchObject({ code: 'E_USAGE' });
  });
});
