/**
 * JSON Schemas (draft-07, so editors' YAML language servers understand them)
 * for scenario and hosts files. `x-hint` on a node is the fix printed when a
 * value there is rejected. The `.json` copies in `schemas/` are generated from
 * this file (`npm run generate`); a test keeps them in sync.
 */
import { DEFAULT_DMA_MAP_METRICS, DEFAULT_METRICS, METRICS } from '../core/metrics.js';
import { NAME_HINT, NAME_MAX_LENGTH, NAME_PATTERN } from '../core/names.js';
import { FIO_OPTIONS } from './fio-options.js';
import {
  DISK_BUSES,
  KERNEL_NAME_PATTERN,
  HOST_IOMMU_DEVICES,
  IO_ENGINES,
  IOMMU_DEVICES,
  IOMMU_MODES,
  DMA_DIRECTIONS,
  NETWORK_DIRECTIONS,
  NETWORK_TESTS,
  NIC_MODELS,
  RW_PATTERNS,
  VM_CLOCKS,
} from './types.js';

type Schema = Record<string, unknown>;

const SCHEMA_BASE = 'https://iommu-lab.dev/schemas';

const name = (description: string): Schema => ({
  type: 'string',
  pattern: NAME_PATTERN,
  maxLength: NAME_MAX_LENGTH,
  description,
  'x-hint': NAME_HINT,
});

const oneOrMany = (item: Schema, description: string, defaultValue?: unknown): Schema => ({
  description: `${description} A list expands into one cell per value.`,
  anyOf: [item, { type: 'array', items: item, minItems: 1, uniqueItems: true }],
  ...(defaultValue === undefined ? {} : { default: defaultValue }),
});

const fioSize: Schema = {
  type: 'string',
  pattern: '^[1-9][0-9]*[kKmMgGtT]?$',
  'x-hint': 'write a size as fio does: a number with an optional k, m, g or t suffix, e.g. "4k" or "1g"',
};

const metricsEnum = METRICS.map((m) => m.name);

const workloadDisks: Schema = {
  type: 'array',
  items: name('Name of a test disk of the target.'),
  minItems: 1,
  uniqueItems: true,
  description: "Test disks to run on; all of the target's disks when absent.",
};

const fioWorkload: Schema = {
  type: 'object',
  description: 'One fio job. Every list value multiplies the cells.',
  additionalProperties: false,
  required: ['name', 'rw', 'bs'],
  properties: {
    kind: { const: 'fio', default: 'fio', description: 'fio (the default), dma-map-benchmark or network.', 'x-hint': 'kind is fio (the default: a fio job), dma-map-benchmark (the kernel\'s DMA-map benchmark, docs/dma-map-benchmark.md) or network (iperf3 over a test link, docs/network.md)' },
    name: name('Workload name; part of the cell id.'),
    description: { type: 'string', maxLength: 500 },
    rw: oneOrMany({ enum: [...RW_PATTERNS] }, 'fio rw pattern.'),
    bs: oneOrMany({ ...fioSize, description: 'Block size, e.g. 4k.' }, 'Block size.'),
    iodepth: oneOrMany({ type: 'integer', minimum: 1, maximum: 4096 }, 'Queue depth per job.', 1),
    numjobs: oneOrMany({ type: 'integer', minimum: 1, maximum: 256 }, 'Parallel fio jobs.', 1),
    ioengine: oneOrMany({ enum: [...IO_ENGINES] }, 'fio I/O engine.', 'libaio'),
    size: { ...fioSize, description: 'Region of the disk or file the job covers.', default: '256m' },
    runtime: { type: 'integer', minimum: 1, maximum: 86400, description: 'Seconds of measured I/O.', default: 15 },
    ramp_time: { type: 'integer', minimum: 0, maximum: 3600, description: 'Seconds of I/O before measuring starts.', default: 2 },
    direct: { type: 'boolean', description: 'O_DIRECT: bypass the page cache so every I/O reaches the device (and the IOMMU).', default: true },
    disks: workloadDisks,
    options: {
      type: 'object',
      description: 'Further fio options, from an allow-list (see docs/scenarios.md).',
      additionalProperties: false,
      properties: Object.fromEntries(
        Object.entries(FIO_OPTIONS).map(([k, v]) => [k, { ...v.schema, description: v.description }]),
      ),
      'x-hint': 'only the fio options listed in docs/scenarios.md are allowed; the lab writes filename, output and reporting options itself',
    },
  },
};

/** The kernel's DMA-map benchmark; the limits are the kernel's own (include/linux/map_benchmark.h, kernel/dma/map_benchmark.c). */
const dmaMapWorkload: Schema = {
  type: 'object',
  description: "The kernel's DMA-map benchmark (CONFIG_DMA_MAP_BENCHMARK) on a test disk's PCI device: threads map and unmap in a loop and the kernel times each call. Every list value multiplies the cells.",
  additionalProperties: false,
  required: ['kind', 'name'],
  properties: {
    kind: { const: 'dma-map-benchmark' },
    name: name('Workload name; part of the cell id.'),
    description: { type: 'string', maxLength: 500 },
    threads: oneOrMany({ type: 'integer', minimum: 1, maximum: 1024 }, 'Kernel threads mapping and unmapping in parallel (the kernel allows 1–1024).', 1),
    granule: oneOrMany({ type: 'integer', minimum: 1, maximum: 1024 }, 'Pages mapped at once (1–1024).', 1),
    runtime: { type: 'integer', minimum: 1, maximum: 300, default: 10, description: 'Seconds the threads run (the kernel allows 1–300).' },
    dma_bits: { type: 'integer', minimum: 20, maximum: 64, default: 32, description: "The device's DMA mask for the run, in bits (20–64): 32 keeps IOVAs below 4 GiB as a 32-bit device's are." },
    direction: { enum: [...DMA_DIRECTIONS], default: 'bidirectional', description: 'DMA direction of the mappings.' },
    transmit_delay_ns: { type: 'integer', minimum: 0, maximum: 10_000_000, default: 0, description: 'Nanoseconds each mapping is held between map and unmap, pretending a transfer (0–10 ms).' },
    disks: { ...workloadDisks, description: "Test disks whose PCI devices the benchmark maps for (each is taken from its driver for the measurement); all of the target's disks when absent." },
  },
};

const ipv4: Schema = {
  type: 'string',
  pattern: '^(?:(?:25[0-5]|2[0-4][0-9]|1?[0-9]?[0-9])\\.){3}(?:25[0-5]|2[0-4][0-9]|1?[0-9]?[0-9])$',
  'x-hint': 'an IPv4 address such as 192.0.2.10',
};

const bitRate: Schema = {
  type: 'string',
  pattern: '^[1-9][0-9]*[kKmMgG]?$',
  'x-hint': 'write a rate in bits per second as iperf3 does: a number with an optional k, m or g suffix, e.g. "200M"',
};

/** Network I/O with iperf3 over a test link (docs/network.md). iperf3 runs at most 128 parallel streams. */
const networkWorkload: Schema = {
  type: 'object',
  description: 'Network I/O with iperf3 between the two ends of a test link (two test NICs of a guest joined inside QEMU, each end in its own network namespace). Every list value multiplies the cells.',
  additionalProperties: false,
  required: ['kind', 'name'],
  properties: {
    kind: { const: 'network' },
    name: name('Workload name; part of the cell id.'),
    description: { type: 'string', maxLength: 500 },
    test: { enum: [...NETWORK_TESTS], default: 'tcp-stream', description: 'tcp-stream: TCP bulk transfer (iperf3); udp-stream: UDP at udp_rate, loss and jitter measured (iperf3); tcp-rr: request/response over one TCP connection, one request in flight, round-trip times and their percentiles (sockperf ping-pong).' },
    flows: oneOrMany({ type: 'integer', minimum: 1, maximum: 128, 'x-hint': 'iperf3 runs 1 to 128 parallel streams' }, 'Parallel streams (iperf3 -P, 1–128).', 1),
    direction: oneOrMany({ enum: [...NETWORK_DIRECTIONS] }, "Which way data goes, seen from the link's first end: transmit, receive (iperf3 -R) or bidirectional (--bidir).", 'transmit'),
    message_size: oneOrMany(
      { type: ['string', 'integer'], pattern: fioSize['pattern'], minimum: 1, 'x-hint': 'write a size as a number of bytes with an optional k, m or g suffix, e.g. 1448 or "128k"', description: 'Bytes per write, e.g. 128k (TCP) or 1448 (UDP: at most 65507).' },
      'Bytes per write (iperf3 -l; tcp-rr: the request and the response, sockperf -m): 128k for tcp-stream, 1448 for udp-stream, 64 for tcp-rr when absent.'),
    udp_rate: { ...bitRate, description: 'udp-stream only: the sending rate per stream in bits per second (iperf3 -b), e.g. "200M".' },
    runtime: { type: 'integer', minimum: 1, maximum: 3600, default: 10, description: 'Seconds measured (iperf3 -t).' },
    omit: { type: 'integer', minimum: 0, maximum: 60, default: 1, description: "Seconds at the start left out of the throughput (iperf3 -O): TCP's slow start." },
    nics: {
      type: 'array',
      items: name('Name of a test link of the target (its VM profile\'s nics:).'),
      minItems: 1,
      uniqueItems: true,
      description: "Test links to run on; all of the target's links when absent.",
    },
  },
};

const kindIs = (kind: string): Schema => ({ type: 'object', required: ['kind'], properties: { kind: { const: kind } } });

/** A workload is a fio job unless it says `kind: dma-map-benchmark` or `kind: network` (the errors then come from that schema alone). */
const workload: Schema = {
  if: kindIs('dma-map-benchmark'),
  then: dmaMapWorkload,
  else: { if: kindIs('network'), then: networkWorkload, else: fioWorkload },
};

const iommuEntry: Schema = {
  type: 'object',
  additionalProperties: false,
  required: ['device', 'mode'],
  description: 'IOMMU configurations: every device × every mode listed here.',
  properties: {
    device: oneOrMany({ enum: [...IOMMU_DEVICES] }, 'Emulated IOMMU device (none: no IOMMU at all).'),
    mode: oneOrMany({ enum: [...IOMMU_MODES] }, 'Kernel DMA mode: off, passthrough (identity), lazy (flush queue), strict.'),
  },
};

const vmProfile: Schema = {
  type: 'object',
  additionalProperties: false,
  required: ['name'],
  properties: {
    name: name('VM profile name; part of the cell id and guest name.'),
    vcpus: { type: 'integer', minimum: 1, maximum: 64, default: 2 },
    memory_mib: { type: 'integer', minimum: 512, maximum: 262144, default: 2048 },
    kernel: oneOrMany(
      { type: 'string', pattern: KERNEL_NAME_PATTERN, 'x-hint': `"6.1" or "6.12" (Debian's, in the image), or the name of an entry of kernels:` },
      "Guest kernel: Debian 12's 6.1 or 6.12 from bookworm-backports (virtio-iommu needs 6.12), or the name of one of the scenario's kernels: (your own builds). A list compares kernels within each IOMMU configuration.",
      '6.12',
    ),
    boots: { type: 'integer', minimum: 1, maximum: 20, default: 1, description: "Boots of each guest per run: the timing repetitions are split over them (the guest is rebooted in between), so comparisons know how much two boots differ (docs/statistics.md). With 1 boot a comparison across runs or configurations needs the scenario's history for that." },
    clock: { enum: [...VM_CLOCKS], default: 'tcg', description: "tcg: wall-clock guest time (noisy under emulation); virtual: a fixed instruction-count clock with instant test disks, so timings count the guest's own work and repeat (reports label them virtual time; see docs/timing.md); icount: instruction-counted time re-tuned to the host (shift=auto), kept for comparison." },
    profiler: { type: 'boolean', default: true, description: "Load the lab's QEMU plugin into the guest's emulator (TCG only): it counts, per guest kernel function, the instructions and calls of each repetition's workload, outside the guest (docs/profiler.md). Exact counts from every repetition, at no cost in guest time; the guest runs under TCG even where the host offers KVM (the plugin sees only TCG-translated code). false: bpftrace alone, and KVM where there is one." },
    disks: {
      type: 'array',
      maxItems: 8,
      default: [],
      description: 'Test disks (fio and the DMA-map benchmark run on them). A profile has test disks, test links (nics:), or both.',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['name', 'bus'],
        properties: {
          name: name('Test disk name.'),
          bus: { enum: [...DISK_BUSES], description: 'nvme: emulated NVMe controller; virtio-blk with iommu=on. Both sit behind the IOMMU.' },
          size_mib: { type: 'integer', minimum: 16, maximum: 65536, default: 1024 },
        },
      },
    },
    nics: {
      type: 'array',
      maxItems: 3,
      default: [],
      description: 'Test links for network workloads: each is two NICs of one model joined inside QEMU (nothing leaves the guest), one end per network namespace, so every packet crosses two DMA paths behind the IOMMU (docs/network.md). The SSH connection keeps its own NIC.',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['name'],
        properties: {
          name: name('Test link name.'),
          model: { enum: [...NIC_MODELS], default: 'virtio-net', description: 'virtio-net (behind the IOMMU through ACCESS_PLATFORM), e1000e or igb (emulated Intel NICs; their drivers map every buffer through the DMA API).' },
          iommu_platform: { type: 'boolean', default: true, description: 'virtio-net only: negotiate ACCESS_PLATFORM so the IOMMU translates the NIC\'s DMA. false is refused under an active IOMMU: the NIC would bypass it.' },
          ats: { type: 'boolean', default: false, description: 'virtio-net on intel-iommu only: give the NIC a device IOTLB (PCIe ATS); invalidations then reach the device too.' },
        },
      },
    },
  },
};

export const scenarioSchema: Schema = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  $id: `${SCHEMA_BASE}/scenario.schema.json`,
  title: 'iommu-lab scenario',
  type: 'object',
  additionalProperties: false,
  required: ['name', 'workloads', 'iommu', 'targets'],
  properties: {
    name: name('Scenario name; part of run ids.'),
    description: { type: 'string', maxLength: 2000 },
    seed: { type: 'integer', minimum: 0, maximum: 2 ** 31 - 1, default: 1, description: 'Seed for the interleaved order of repetitions.' },
    repetitions: { type: 'integer', minimum: 1, maximum: 1000, default: 5, description: 'Untraced timing repetitions per cell.' },
    workloads: { type: 'array', minItems: 1, maxItems: 100, items: workload },
    iommu: { type: 'array', minItems: 1, maxItems: 20, items: iommuEntry },
    targets: {
      type: 'object',
      additionalProperties: false,
      minProperties: 1,
      properties: {
        vms: { type: 'array', items: vmProfile, maxItems: 20, default: [] },
        hosts: {
          type: 'array',
          items: name('Name of a static host in the hosts file.'),
          uniqueItems: true,
          default: [],
        },
      },
    },
    hosts_file: { type: 'string', minLength: 1, maxLength: 4096, description: 'Hosts file, relative to this file.' },
    kernels: {
      type: 'array',
      maxItems: 20,
      default: [],
      description: 'Kernels under test of your own, by name (VM profiles name them in kernel:). Paths are relative to this file. Each is checked before anything boots: a bzImage, a .config with every option in guest-images/kernel/lab.config, modules of the same release.',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['name'],
        properties: {
          name: name('Kernel name: part of cell ids and guest names when kernel: is a list.'),
          path: { type: 'string', minLength: 1, maxLength: 4096, description: 'A built kernel tree (arch/x86/boot/bzImage and .config), its O= directory, or the output directory of iommu-lab kernel build.' },
          bzimage: { type: 'string', minLength: 1, maxLength: 4096, description: 'A bzImage, when the build is given as files.' },
          config: { type: 'string', minLength: 1, maxLength: 4096, description: 'The .config the bzImage was built with.' },
          modules: { type: 'string', minLength: 1, maxLength: 4096, description: 'The directory make modules_install INSTALL_MOD_PATH=DIR filled (DIR, holding lib/modules/RELEASE); needed only when a driver the lab needs is a module.' },
        },
      },
    },
    tracing: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        scripts: { type: 'array', items: name('A bpftrace script in bpf/ (without .bt).'), uniqueItems: true, default: [] },
        repetitions: { type: 'integer', minimum: 0, maximum: 100, default: 1, description: 'Traced repetitions per cell, apart from the timing ones.' },
        in_timing_repetitions: { type: 'boolean', default: false, description: 'Also trace the timing repetitions. Tracing slowed fio to 0.43–0.85 of untraced under TCG.' },
      },
    },
    metrics: {
      type: 'array',
      items: { enum: metricsEnum, 'x-hint': `metrics are described in core/metrics.ts: ${metricsEnum.join(', ')}` },
      uniqueItems: true,
      minItems: 1,
      description: `Metrics to report and compare. Default: ${DEFAULT_METRICS.join(', ')} for fio workloads; ${DEFAULT_DMA_MAP_METRICS.join(', ')} for DMA-map benchmark workloads.`,
    },
    thresholds: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        alpha: { type: 'number', exclusiveMinimum: 0, maximum: 0.5, default: 0.05, description: 'False discovery rate over the matrix (Benjamini–Hochberg).' },
        min_effect_pct: { type: 'number', minimum: 0, maximum: 1000, default: 5, description: 'Smallest change worth calling a regression.' },
        max_cv_pct: { type: 'number', exclusiveMinimum: 0, maximum: 1000, default: 10, description: 'A cell noisier than this is flagged, not trusted.' },
        metrics: {
          type: 'object',
          propertyNames: { enum: metricsEnum },
          additionalProperties: {
            type: 'object',
            additionalProperties: false,
            properties: {
              min_effect_pct: { type: 'number', minimum: 0, maximum: 1000 },
              max_cv_pct: { type: 'number', exclusiveMinimum: 0, maximum: 1000 },
            },
          },
        },
      },
    },
    timeouts: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        cell_s: { type: 'integer', minimum: 10, maximum: 86400, default: 900, description: 'A repetition taking longer fails with kind timeout.' },
        boot_s: { type: 'integer', minimum: 10, maximum: 3600, default: 240, description: 'Time for a guest to reach SSH.' },
      },
    },
  },
};

export const hostsSchema: Schema = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  $id: `${SCHEMA_BASE}/hosts.schema.json`,
  title: 'iommu-lab static hosts',
  type: 'object',
  additionalProperties: false,
  minProperties: 1,
  properties: {
    hypervisors: {
      type: 'array',
      maxItems: 200,
      description: 'Remote hypervisor hosts (libvirt over SSH) guests may be placed on; this machine needs no entry.',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['uri', 'ssh'],
        properties: {
          uri: { type: 'string', pattern: '^qemu\\+ssh://[^/\\s]+/system(\\?[^\\s]*)?$', 'x-hint': 'qemu+ssh://root@HOST[:PORT]/system' },
          capacity: { type: 'integer', minimum: 1, maximum: 256, description: 'Guests this host may run at once (default 8; --hypervisor URI=N overrides).' },
          ssh: {
            type: 'object',
            additionalProperties: false,
            required: ['key', 'host_key_sha256'],
            properties: {
              key: { type: 'string', minLength: 1, maxLength: 4096, description: 'Private key file; relative paths are relative to the hosts file; ~ is your home.' },
              host_key_sha256: {
                type: 'string',
                pattern: '^SHA256:[A-Za-z0-9+/]{43}$',
                'x-hint': 'pin the host key: run `ssh-keyscan -t ed25519 HOST | ssh-keygen -lf -` and copy the SHA256:… field',
              },
            },
          },
        },
      },
    },
    hosts: {
      type: 'array',
      maxItems: 200,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['name', 'ssh', 'iommu'],
        properties: {
          name: name('Host name as scenarios refer to it.'),
          ssh: {
            type: 'object',
            additionalProperties: false,
            required: ['host', 'user', 'key', 'host_key_sha256'],
            properties: {
              host: { type: 'string', pattern: '^[A-Za-z0-9.:-]+$', maxLength: 253, 'x-hint': 'a host name or IP address' },
              port: { type: 'integer', minimum: 1, maximum: 65535, default: 22 },
              user: { type: 'string', pattern: '^[a-z_][a-z0-9_-]*$', maxLength: 32 },
              key: { type: 'string', minLength: 1, maxLength: 4096, description: 'Private key file; relative paths are relative to the hosts file; ~ is your home.' },
              host_key_sha256: {
                type: 'string',
                pattern: '^SHA256:[A-Za-z0-9+/]{43}$',
                'x-hint': 'pin the host key: run `ssh-keyscan -t ed25519 HOST | ssh-keygen -lf -` and copy the SHA256:… field',
              },
            },
          },
          iommu: {
            type: 'object',
            additionalProperties: false,
            required: ['device', 'mode'],
            properties: {
              device: { enum: [...HOST_IOMMU_DEVICES] },
              mode: { enum: [...IOMMU_MODES] },
            },
          },
          nics: {
            type: 'array',
            maxItems: 16,
            description: 'NICs under test for network workloads (docs/network.md): this host runs the client, the peer (another host of this file, reached over its own SSH) the server.',
            items: {
              type: 'object',
              additionalProperties: false,
              required: ['name', 'interface', 'address', 'peer', 'peer_address', 'behind_iommu'],
              properties: {
                name: name('Test NIC name, as workloads name it in nics:.'),
                interface: { type: 'string', pattern: '^[A-Za-z0-9_.:-]{1,15}$', 'x-hint': 'the interface name as `ip link` shows it, e.g. enp65s0f0' },
                address: { ...ipv4, description: "This host's IPv4 address on the link (the client binds it)." },
                peer: name('A host of this file that runs the server end.'),
                peer_address: { ...ipv4, description: "The peer's IPv4 address on the link (the server listens there)." },
                behind_iommu: { type: 'boolean', description: "Whether the NIC's DMA is translated by this host's IOMMU (the preflight checks its IOMMU group)." },
              },
            },
          },
          disks: {
            type: 'array',
            default: [],
            items: {
              type: 'object',
              additionalProperties: false,
              required: ['name', 'path', 'behind_iommu'],
              properties: {
                name: name('Test disk name.'),
                path: {
                  type: 'string',
                  pattern: '^/[A-Za-z0-9._/-]+$',
                  maxLength: 4096,
                  'x-hint': 'an absolute path of letters, digits and . _ - / (a block device such as /dev/nvme0n1, or a file)',
                },
                behind_iommu: { type: 'boolean' },
                allow_destructive_writes: {
                  type: 'boolean',
                  default: false,
                  description: 'Allow workloads that write to this raw block device, destroying its contents.',
                },
              },
            },
          },
        },
      },
    },
  },
};
