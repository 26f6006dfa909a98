import { KERNEL_IDENTITY_SCHEMA } from '../guest-images/kernel/identity.js';
import { NAME_MAX_LENGTH, NAME_PATTERN } from '../core/names.js';
import { DISK_BUSES, HOST_IOMMU_DEVICES, IOMMU_DEVICES, IOMMU_MODES, NIC_MODELS, VM_CLOCKS } from '../scenario/types.js';

const sshSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['host', 'port', 'user', 'key_path', 'host_key_sha256'],
  properties: {
    host: { type: 'string', pattern: '^[A-Za-z0-9.:-]+$' },
    port: { type: 'integer', minimum: 1, maximum: 65535 },
    user: { type: 'string', pattern: '^[a-z_][a-z0-9_-]*$' },
    key_path: { type: 'string', minLength: 1 },
    host_key_sha256: { type: 'string', pattern: '^SHA256:[A-Za-z0-9+/]{43}$' },
  },
} as const;

const name = { type: 'string', pattern: NAME_PATTERN, maxLength: NAME_MAX_LENGTH + 30 };

export const inventorySchema: Record<string, unknown> = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  $id: 'https://iommu-lab.dev/schemas/inventory.schema.json',
  title: 'iommu-lab inventory',
  description: 'Targets reachable over SSH, with the IOMMU configuration each is expected to run in.',
  type: 'object',
  additionalProperties: false,
  required: ['version', 'created', 'source', 'targets'],
  properties: {
    version: { const: 1 },
    created: { type: 'string', format: 'date-time' },
    source: { enum: ['iommu-lab up', 'pulumi', 'hosts-file'] },
    targets: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['name', 'kind', 'ssh', 'iommu', 'disks'],
        properties: {
          name,
          kind: { enum: ['vm', 'static'] },
          ssh: { ...sshSchema, properties: { ...sshSchema.properties, via: { ...sshSchema, description: "A guest on another hypervisor: that host's SSH, through which the guest's forwarded port (on the hypervisor's loopback) is reached." } } },
          iommu: {
            type: 'object',
            additionalProperties: false,
            required: ['device', 'mode'],
            properties: {
              device: { enum: [...new Set([...IOMMU_DEVICES, ...HOST_IOMMU_DEVICES])] },
              mode: { enum: [...IOMMU_MODES] },
            },
          },
          disks: {
            type: 'array',
            items: {
              type: 'object',
              additionalProperties: false,
              required: ['name', 'path', 'behind_iommu', 'allow_destructive_writes'],
              properties: {
                name,
                path: { type: 'string', pattern: '^/[A-Za-z0-9._/-]+$' },
                bus: { enum: [...DISK_BUSES] },
                behind_iommu: { type: 'boolean' },
                allow_destructive_writes: { type: 'boolean' },
                pci_address: { type: 'string', pattern: '^[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\\.[0-7]$' },
              },
            },
          },
          nics: {
            type: 'array',
            description: "Test NICs for network workloads (docs/network.md): a guest's links (two NICs joined inside QEMU, one network namespace per end), or a static host's NICs with their peers.",
            items: {
              if: { type: 'object', required: ['kind'], properties: { kind: { const: 'peer' } } },
              then: {
                type: 'object',
                additionalProperties: false,
                required: ['kind', 'name', 'interface', 'address', 'behind_iommu', 'peer'],
                properties: {
                  kind: { const: 'peer' },
                  name,
                  interface: { type: 'string', pattern: '^[A-Za-z0-9_.:-]{1,15}$' },
                  address: { type: 'string', pattern: '^[0-9.]+$' },
                  behind_iommu: { type: 'boolean' },
                  peer: {
                    type: 'object',
                    additionalProperties: false,
                    required: ['name', 'address', 'ssh'],
                    properties: { name, address: { type: 'string', pattern: '^[0-9.]+$' }, ssh: sshSchema },
                  },
                },
              },
              else: {
                type: 'object',
                additionalProperties: false,
                required: ['kind', 'name', 'model', 'iommu_platform', 'ats', 'behind_iommu', 'ends'],
                properties: {
                  kind: { const: 'link' },
                  name,
                  model: { enum: [...NIC_MODELS] },
                  iommu_platform: { type: 'boolean' },
                  ats: { type: 'boolean' },
                  behind_iommu: { type: 'boolean' },
                  ends: {
                    type: 'array',
                    minItems: 2,
                    maxItems: 2,
                    items: {
                      type: 'object',
                      additionalProperties: false,
                      required: ['mac', 'namespace', 'address'],
                      properties: {
                        mac: { type: 'string', pattern: '^[0-9a-f]{2}(?::[0-9a-f]{2}){5}$' },
                        namespace: { type: 'string', pattern: '^[A-Za-z0-9._-]+$' },
                        address: { type: 'string', pattern: '^[0-9.]+/[0-9]+$' },
                      },
                    },
                  },
                },
              },
            },
          },
          vm: {
            type: 'object',
            additionalProperties: false,
            required: ['profile', 'hypervisor_uri', 'domain', 'image_digest', 'kernel', 'cmdline', 'clock'],
            properties: {
              profile: name,
              hypervisor_uri: { type: 'string', minLength: 1 },
              hypervisor_ssh: { ...sshSchema, description: "A remote hypervisor's SSH: libvirt, the guest's files and its tunnel go through it." },
              domain: { type: 'string', minLength: 1 },
              image_digest: { type: 'string', pattern: '^sha256:[0-9a-f]{64}$' },
              kernel: { type: 'string' },
              kernel_build: KERNEL_IDENTITY_SCHEMA,
              dma_map_tool: { type: 'string', minLength: 1, description: "The DMA-map benchmark's tool built for the guest's kernel, on the machine that runs the lab." },
              profiler: {
                description: "The lab's QEMU plugin in this guest (docs/profiler.md): loaded (plugin, window directory and guest marker on the hypervisor host) or unavailable (why).",
                oneOf: [
                  { type: 'object', additionalProperties: false, required: ['state', 'plugin', 'dir', 'marker', 'count', 'version'], properties: { state: { const: 'loaded' }, plugin: { type: 'string' }, dir: { type: 'string' }, marker: { type: 'string' }, count: { enum: ['inline', 'callback'] }, version: { type: 'string' } } },
                  { type: 'object', additionalProperties: false, required: ['state', 'why'], properties: { state: { const: 'unavailable' }, why: { type: 'string' } } },
                ],
              },
              cmdline: { type: 'string' },
              clock: { enum: [...VM_CLOCKS] },
              qemu_version: { type: 'string', pattern: '^[0-9]+(\\.[0-9]+)*$', description: "The hypervisor's QEMU that ran the guest (virsh version)." },
              libvirt_version: { type: 'string', pattern: '^[0-9]+(\\.[0-9]+)*$', description: "The hypervisor's libvirt (virsh version)." },
            },
          },
        },
      },
    },
  },
};
