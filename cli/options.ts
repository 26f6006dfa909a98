/** What several commands share: the hypervisor list, stopping cleanly on SIGINT/SIGTERM, the kernel build options. */
import { UsageError } from '../core/errors.js';
import type { KernelBase } from '../guest-images/kernel/build.js';
import type { ProvisionHow } from '../infra/provisioner.js';
import { resolveHypervisors, type Hypervisor } from '../infra/hypervisor.js';
import { loadHostsFile, loadScenarioFile, type LoadedHosts } from '../scenario/load.js';
import type { Io } from './table.js';

/**
 * `--hypervisor URI[=N],…`, remote ones pinned from the hosts file (`--hosts`,
 * else the scenario's `hosts_file`); without `--hypervisor`, the hosts file's
 * hypervisors, else this machine.
 */
export async function hypervisorsOf(options: { readonly hypervisor?: string | undefined; readonly hosts?: string | undefined }, scenarioFile?: string): Promise<Hypervisor[]> {
  const named = options.hypervisor?.split(',').map((t) => t.trim()).filter(Boolean) ?? [];
  const hostsFile = options.hosts;
  let hosts: LoadedHosts | undefined;
  if (hostsFile) hosts = await loadHostsFile(hostsFile);
  else if (scenarioFile) hosts = (await loadScenarioFile(scenarioFile)).hosts;
  return resolveHypervisors(named, hosts);
}

/**
 * SIGINT/SIGTERM abort the returned signal (the work in progress finishes its
 * write, guests come down); call dispose when done. The handler stays until
 * then: were it gone after the first signal, execa's exit hook (signal-exit)
 * would find no other listener and kill the process with the signal, leaving
 * guests up and the exit code lost.
 */
export function interruptible(io: Io, message: string): { signal: AbortSignal; dispose: () => void } {
  const controller = new AbortController();
  const onSignal = (sig: NodeJS.Signals) => {
    if (controller.signal.aborted) {
      io.err(`${sig}: already stopping (${message})`);
      return;
    }
    io.err(`\ninterrupted (${sig}): ${message}`);
    controller.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return { signal: controller.signal, dispose: () => { process.off('SIGINT', onSignal); process.off('SIGTERM', onSignal); } };
}

/** `--base tiny|defconfig|FILE` of the kernel commands. */
export function kernelBaseOf(options: { readonly base?: string | undefined }): KernelBase {
  const s = options.base ?? 'tiny';
  return s === 'tiny' || s === 'defconfig' ? s : { file: s };
}

/** `--jobs N`: a positive whole number, or undefined (one job per CPU). */
export function jobsOf(options: { readonly jobs?: string | undefined }): number | undefined {
  if (options.jobs === undefined) return undefined;
  const jobs = Number(options.jobs);
  if (!(Number.isInteger(jobs) && jobs > 0)) throw new UsageError(`--jobs ${options.jobs} is not a positive whole number`, 'e.g. --jobs 2');
  return jobs;
}

/** `--provision auto|pulumi|direct`. */
export function provisionOf(text: string): ProvisionHow {
  if (text === 'auto' || text === 'pulumi' || text === 'direct') return text;
  throw new UsageError(`--provision ${text} is not auto, pulumi or direct`, "auto uses Pulumi where its CLI and the scenario's stack exist; direct boots with libvirt alone");
}

/*
 * Options several commands take, declared once: the same flag means the same
 * thing in every command (cli/table.ts derives each command's option types).
 */
export const HOSTS_OPTION = { flags: '--hosts <file>', description: "hosts file: the scenario's static hosts, and remote hypervisors with their pinned keys (default: the scenario's hosts_file)" } as const;
export const HYPERVISORS_OPTION = { flags: '--hypervisor <uris>', description: "comma-separated libvirt URIs, each optionally =CAPACITY; remote ones (qemu+ssh://) are pinned in the hosts file (default: the hosts file's hypervisors, else qemu:///system)" } as const;
/** `--results <dir>`, saying what the command keeps there. */
export const resultsOption = (what: string) => ({ flags: '--results <dir>', description: `results root (${what})`, default: 'results' }) as const;
/** `--json`, saying what it prints. */
export const jsonOption = (what: string) => ({ flags: '--json', description: `print ${what} as JSON` }) as const;
