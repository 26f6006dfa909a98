/** Who a kernel build is, as inventories and results record it: the type and its JSON Schema, in one place. */

export interface KernelIdentity {
  /** The scenario's name for it. */
  readonly name: string;
  /** `uname -r` of the build. */
  readonly release: string;
  readonly bzimage_sha256: string;
  readonly config_sha256: string;
  /** Where it was found. */
  readonly path: string;
  /** When the build's source is a git tree: `git describe --always --dirty --tags`, the commit, and whether tracked files had changes. */
  readonly git?: { readonly describe: string; readonly commit: string; readonly dirty: boolean };
}

const hex64 = { type: 'string', pattern: '^[0-9a-f]{64}$' };

export const KERNEL_IDENTITY_SCHEMA: Record<string, unknown> = {
  type: 'object',
  additionalProperties: false,
  required: ['name', 'release', 'bzimage_sha256', 'config_sha256', 'path'],
  description: "A kernel under test of the user's own: release, content hashes, and its git state when built from a git tree.",
  properties: {
    name: { type: 'string' },
    release: { type: 'string' },
    bzimage_sha256: hex64,
    config_sha256: hex64,
    path: { type: 'string' },
    git: {
      type: 'object',
      additionalProperties: false,
      required: ['describe', 'commit', 'dirty'],
      properties: { describe: { type: 'string' }, commit: { type: 'string', pattern: '^[0-9a-f]{40,64}$' }, dirty: { type: 'boolean' } },
    },
  },
};
