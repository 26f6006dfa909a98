/** What several commands share: the hypervisor list and stopping cleanly on SIGINT/SIGTERM. */
import { LOCAL, parseHypervisor, type Hypervisor } from '../infra/up.js';
import type { Io } from './table.js';

export function hypervisorsOf(options: Record<string, unknown>): Hypervisor[] {
  const list = (options['hypervisor'] as string | undefined)?.split(',').filter(Boolean) ?? [];
  return list.length ? list.map(parseHypervisor) : [LOCAL];
}

/** SIGINT/SIGTERM abort the returned signal (the work in progress finishes its write); call dispose when done. */
export function interruptible(io: Io, message: string): { signal: AbortSignal; dispose: () => void } {
  const controller = new AbortController();
  const onSignal = () => {
    io.err(`\ninterrupted: ${message}`);
    controller.abort();
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  return { signal: controller.signal, dispose: () => { process.off('SIGINT', onSignal); process.off('SIGTERM', onSignal); } };
}
