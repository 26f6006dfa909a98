/**
 * Where a network cell's packets go, and how its server end is run: a guest's
 * test link (both ends in the guest, each in its network namespace; the
 * server on the second end over the guest's own session), or a static host's
 * NIC and its peer (the server on the peer, over the peer's own SSH). The
 * runner (runner/network.ts) asks a path for the client's command prefix, the
 * NICs whose counters make the window's packets, and to start and stop the
 * tool's server.
 */
import { NetworkError } from '../core/errors.js';
import type { InventoryLink, InventoryPeerNic } from '../inventory/types.js';
import { shellQuote, SshSession } from '../transport/ssh.js';
import type { LinkEndFacts } from './links.js';

/** What a path needs of the tool it runs. */
export interface ServerTool {
  readonly name: string;
  readonly port: number;
  /** The server's command, bound to the address. */
  server(addr: string): string;
}

export interface TestPath {
  /** Runs the client where the path starts (a namespace of the guest, or the host itself). */
  readonly clientPrefix: readonly string[];
  readonly serverAddress: string;
  /** The client's own address, where it must be bound to leave through the NIC under test. */
  readonly clientAddress?: string;
  /** The NICs whose counters give the window's packets (runner/detached.sh: net/NAMESPACE/INTERFACE, `-`: none). */
  readonly devices: readonly string[];
  /** The PCI address of the NIC under test, for bpftrace maps kept per device (a host's NIC; a guest's link has two). */
  readonly pci?: string;
  /** Starts the tool's server and waits until it listens (and, in a guest, a ping crosses the link); a NetworkError says what failed. */
  startServer(tool: ServerTool): Promise<void>;
  stopServer(tool: ServerTool): Promise<void>;
  close(): void;
}

const READY_TRIES = 100;
const addressOf = (cidr: string) => cidr.split('/')[0]!;
/**
 * pkill -f of the server's own command line; the bracket keeps the pattern from matching the shell that runs
 * pkill. Run on its own: a shell whose script also starts the server has that command line in its own.
 */
const stopCommand = (tool: ServerTool, addr: string) => {
  const cmd = tool.server(addr);
  return `pkill -f ${shellQuote(`[${cmd[0]}]${cmd.slice(1)}`)} 2>/dev/null; true`;
};
const listening = (tool: ServerTool) => `ss -Hltn 'sport = :${tool.port}' | grep -q .`;
/** Every stream of the daemon away from the SSH channel, or the command waits for it to close. */
const detachedServer = (tool: ServerTool, addr: string) => `${tool.server(addr)} < /dev/null > /dev/null 2>&1 || exit 3`;

/** A guest's test link: both ends in the guest, the server on the second. */
export class GuestLinkPath implements TestPath {
  readonly clientPrefix: readonly string[];
  readonly serverAddress: string;
  readonly devices: readonly string[];

  constructor(private readonly session: () => SshSession, private readonly nic: InventoryLink, ends: readonly [LinkEndFacts, LinkEndFacts]) {
    const [a, b] = nic.ends;
    this.clientPrefix = ['ip', 'netns', 'exec', a.namespace];
    this.serverAddress = addressOf(b.address);
    this.devices = [`net/${a.namespace}/${ends[0].ifname}`, `net/${b.namespace}/${ends[1].ifname}`];
  }

  async startServer(tool: ServerTool): Promise<void> {
    const q = shellQuote;
    const [a, b] = this.nic.ends;
    const addr = this.serverAddress;
    await this.stopServer(tool);
    const script = [
      `ip netns exec ${q(b.namespace)} ${detachedServer(tool, addr)}`,
      // The image has busybox's ping (no iputils).
      `i=0; while [ $i -lt ${READY_TRIES} ]; do ip netns exec ${q(a.namespace)} busybox ping -c 1 -W 1 -q ${addr} > /dev/null 2>&1 && ip netns exec ${q(b.namespace)} ${listening(tool)} && exit 0; i=$((i + 1)); sleep 0.2; done`,
      `echo "no ping from ${a.namespace} to ${addr}, or no ${tool.name} server listening:"; ip -n ${q(a.namespace)} -s link; ip -n ${q(b.namespace)} -s link; exit 4`,
    ].join('\n');
    const r = await this.session().exec(script, { timeoutMs: 180_000, allowFailure: true });
    if (r.code !== 0) {
      throw new NetworkError(`test link ${this.nic.name} is not ready: ${r.code === 3 ? `the ${tool.name} server did not start` : 'no packet crossed it, or the server did not listen'}`, { detail: `${r.stdout}${r.stderr}`, fix: "the detail shows both ends' counters; see docs/network.md" });
    }
  }

  async stopServer(tool: ServerTool): Promise<void> {
    await this.session().exec(stopCommand(tool, this.serverAddress), { timeoutMs: 60_000, allowFailure: true }).catch(() => undefined);
  }

  close(): void {}
}

/** A static host's NIC: the client on the host, bound to the NIC's address; the server on the peer, over the peer's SSH. */
export class PeerPath implements TestPath {
  readonly clientPrefix: readonly string[] = [];
  readonly serverAddress: string;
  readonly clientAddress: string;
  readonly devices: readonly string[];
  readonly pci?: string;
  private peer: SshSession | undefined;

  constructor(private readonly nic: InventoryPeerNic, end: LinkEndFacts) {
    this.serverAddress = nic.peer.address;
    this.clientAddress = nic.address;
    this.devices = [`net/-/${end.ifname}`];
    if (end.pci) this.pci = end.pci;
  }

  private async peerSession(): Promise<SshSession> {
    if (this.peer) return this.peer;
    try {
      this.peer = await SshSession.connect(this.nic.peer.name, this.nic.peer.ssh, { connectTimeoutMs: 20_000 });
      return this.peer;
    } catch (e) {
      throw new NetworkError(`peer ${this.nic.peer.name} of test NIC ${this.nic.name} does not answer SSH at ${this.nic.peer.ssh.host}:${this.nic.peer.ssh.port}: ${(e as Error).message}`, { fix: "check the peer's ssh: entry in the hosts file, and that it runs" });
    }
  }

  async startServer(tool: ServerTool): Promise<void> {
    const peer = await this.peerSession();
    const addr = this.serverAddress;
    await this.stopServer(tool);
    const script = [
      `command -v ${tool.name} > /dev/null || exit 5`,
      detachedServer(tool, addr),
      `i=0; while [ $i -lt ${READY_TRIES} ]; do ${listening(tool)} && exit 0; i=$((i + 1)); sleep 0.2; done; exit 4`,
    ].join('\n');
    const r = await peer.exec(script, { timeoutMs: 120_000, allowFailure: true });
    if (r.code === 0) return;
    const why = r.code === 5 ? `${tool.name} is not installed on the peer (apt-get install ${tool.name})` : r.code === 3 ? `the ${tool.name} server did not start on ${addr} (is the address the peer's?)` : `the ${tool.name} server did not listen on port ${tool.port}`;
    throw new NetworkError(`peer ${this.nic.peer.name} of test NIC ${this.nic.name}: ${why}`, { detail: `${r.stdout}${r.stderr}` });
  }

  async stopServer(tool: ServerTool): Promise<void> {
    await this.peer?.exec(stopCommand(tool, this.serverAddress), { timeoutMs: 60_000, allowFailure: true }).catch(() => undefined);
  }

  close(): void {
    this.peer?.close();
    this.peer = undefined;
  }
}
