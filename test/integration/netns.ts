// Separate hosts on one machine: each host is a Linux network namespace with its own address,
// joined to the others by a veth pair plugged into one bridge. The bridge lives in a namespace of its
// own (the "switch"), so the machine's firewall and routes never see the hosts' traffic; the test
// process reaches the hosts through one more veth pair, from the root namespace to the switch.
//
//   root namespace (the test)        switch namespace                host namespaces
//   us<hex>  10.213.X.1 ── veth ──── root ┐
//                                         ├─ bridge ─ coordinator ── veth ── eth0 10.213.X.10
//                                         ├─────────── r1 ────────── veth ── eth0 10.213.X.11
//                                         └─────────── …
//
// A host's link goes down on the switch side (`ip link set DEV down` in the switch namespace), as a
// cable pulled out of the switch: the host keeps running, and nothing reaches it nor leaves it.
//
// Names carry the owning process id and a random suffix, `understudy-<pid>-<hex>-<host>`, so two runs
// never collide, and a run that crashed leaves names a later run recognises and removes (its pid is
// gone). The subnet 10.213.X.0/24 takes a random X that no address or route of the root namespace
// uses yet. Processes are started through `ip netns exec`, which replaces itself with the command, so
// the child's pid is the server's own; `close()` kills whatever still runs in the namespaces, by pid,
// and deletes the namespaces and the root's veth. Creating namespaces needs root and iproute2:
// `namespacesUnavailable()` says why they cannot be made here, for the test to skip with.

import { execFile, execFileSync } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

/** Every namespace this helper makes starts with this, then `<pid>-<hex>-`. */
export const NAMESPACE_PREFIX = 'understudy-';
const namespacePattern = /^understudy-(\d+)-([0-9a-f]+)-/;
/** The private /16 the per-run /24 is taken from. */
const SUBNET_PREFIX = '10.213';
/** The root namespace's address on the bridge; hosts count up from HOST_ADDRESS_FIRST. */
const ROOT_HOST_NUMBER = 1;
const HOST_ADDRESS_FIRST = 10;
const HOST_ADDRESS_LAST = 250;
/** Interface names are at most 15 bytes (IFNAMSIZ − 1); a host's name is its switch-side interface. */
const INTERFACE_NAME_BYTES_MAX = 15;
const hostNamePattern = /^[a-z][a-z0-9-]*$/;
/** Interfaces of the switch namespace that are not hosts' links. */
const switchInterfaces = new Set(['lo', 'bridge', 'root']);

export interface NetworkHost {
  readonly name: string;
  readonly namespace: string;
  /** Its IPv4 address on the bridge. */
  readonly address: string;
}

/** Why network namespaces cannot be made on this machine, or undefined when they can. */
export function namespacesUnavailable(): string | undefined {
  if (process.platform !== 'linux') return `network namespaces need Linux (this is ${process.platform})`;
  if (process.getuid?.() !== 0) return 'network namespaces need root (CI runs as root)';
  try {
    execFileSync('ip', ['-V'], { stdio: 'ignore' });
  } catch {
    return '`ip` (iproute2) is not installed';
  }
  // Make one namespace with a bridge and a veth pair and start node in it, as a run does; remove it.
  const probe = `${NAMESPACE_PREFIX}${process.pid}-${randomBytes(3).toString('hex')}-probe`;
  const steps: readonly (readonly [problem: string, args: readonly string[]])[] = [
    ['`ip netns add` failed', ['netns', 'add', probe]],
    [
      'a bridge cannot be made in a network namespace',
      ['-n', probe, 'link', 'add', 'probe-br', 'type', 'bridge'],
    ],
    [
      'a veth pair cannot be made in a network namespace',
      ['-n', probe, 'link', 'add', 'probe-a', 'type', 'veth', 'peer', 'name', 'probe-b'],
    ],
    // `ip netns exec` mounts a /sys of its own, which some containers forbid.
    [
      '`ip netns exec` cannot start node in a network namespace',
      ['netns', 'exec', probe, process.execPath, '-e', ''],
    ],
  ];
  try {
    for (const [problem, args] of steps) {
      try {
        execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
      } catch (error) {
        return `${problem}: ${commandError(error)}`;
      }
    }
    return undefined;
  } finally {
    try {
      execFileSync('ip', ['netns', 'delete', probe], { stdio: 'ignore' });
    } catch {
      // It was never made.
    }
  }
}

/**
 * Removes what crashed runs left behind: every namespace named by this helper whose owning process
 * is gone, after killing (by pid) any process still running in it.
 */
export async function removeLeftoverNamespaces(): Promise<string[]> {
  const removed: string[] = [];
  for (const namespace of await listNamespaces()) {
    const owner = namespacePattern.exec(namespace)?.[1];
    if (owner === undefined || processAlive(Number(owner))) continue;
    await killProcessesIn(namespace);
    await ip(['netns', 'delete', namespace]);
    removed.push(namespace);
  }
  return removed;
}

export class NamespaceNetwork {
  private readonly hosts = new Map<string, NetworkHost>();
  private nextHostNumber = HOST_ADDRESS_FIRST;
  private closed = false;

  private constructor(
    /** `understudy-<pid>-<hex>-`: every namespace of this network starts with it. */
    private readonly namePrefix: string,
    /** The root namespace's end of its veth pair to the switch. */
    private readonly rootInterface: string,
    /** The first three octets of the network's /24. */
    private readonly subnet: string,
    private readonly switchNamespace: string,
  ) {}

  /** The bridge, and the root namespace's link to it. Cleans leftovers of crashed runs first. */
  static async create(): Promise<NamespaceNetwork> {
    await removeLeftoverNamespaces();
    const suffix = randomBytes(3).toString('hex');
    const namePrefix = `${NAMESPACE_PREFIX}${process.pid}-${suffix}-`;
    const subnet = await freeSubnet();
    const network = new NamespaceNetwork(namePrefix, `us${suffix}`, subnet, `${namePrefix}switch`);
    try {
      await network.makeSwitch();
    } catch (error) {
      await network.close();
      throw error;
    }
    return network;
  }

  /** The root namespace's address on the bridge: where the hosts see the test process from. */
  get rootAddress(): string {
    return `${this.subnet}.${ROOT_HOST_NUMBER}`;
  }

  /** A new host: its own namespace with loopback up and one link to the bridge, at the next address. */
  async addHost(name: string): Promise<NetworkHost> {
    if (!hostNamePattern.test(name) || Buffer.byteLength(name) > INTERFACE_NAME_BYTES_MAX) {
      throw new Error(`host name ${JSON.stringify(name)}: lowercase letters, digits and dashes, at most 15`);
    }
    if (this.hosts.has(name) || switchInterfaces.has(name)) throw new Error(`host ${name} exists already`);
    if (this.nextHostNumber > HOST_ADDRESS_LAST) throw new Error('no address left on this network');
    const host: NetworkHost = {
      name,
      namespace: `${this.namePrefix}${name}`,
      address: `${this.subnet}.${this.nextHostNumber}`,
    };
    this.nextHostNumber++;
    this.hosts.set(name, host);
    await ip(['netns', 'add', host.namespace]);
    await ip(['-n', host.namespace, 'link', 'set', 'lo', 'up']);
    await this.plug(name, ['peer', 'name', 'eth0', 'netns', host.namespace]);
    await ip(['-n', host.namespace, 'address', 'add', `${host.address}/24`, 'dev', 'eth0']);
    await ip(['-n', host.namespace, 'link', 'set', 'eth0', 'up']);
    return host;
  }

  /** The command prefix that runs a program inside `host`'s namespace. */
  launcher(host: NetworkHost): readonly string[] {
    return ['ip', 'netns', 'exec', host.namespace];
  }

  /** Pulls `host`'s cable out of the switch: it can reach no one, and no one can reach it. */
  async linkDown(host: NetworkHost): Promise<void> {
    await ip(['-n', this.switchNamespace, 'link', 'set', host.name, 'down']);
  }

  /** Plugs `host`'s cable back in. */
  async linkUp(host: NetworkHost): Promise<void> {
    await ip(['-n', this.switchNamespace, 'link', 'set', host.name, 'up']);
  }

  /**
   * Kills every process still running in the network's namespaces (by pid), deletes them and the
   * root's veth. Safe to call more than once, and after a create() that failed half way.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const failures: string[] = [];
    const attempt = async (step: () => Promise<unknown>) => {
      try {
        await step();
      } catch (error) {
        failures.push(String(error));
      }
    };
    // The root's veth first: deleting its peer's namespace removes it too, but only later.
    if (await interfaceExists(this.rootInterface))
      await attempt(() => ip(['link', 'delete', this.rootInterface]));
    const mine = (await listNamespaces()).filter((namespace) => namespace.startsWith(this.namePrefix));
    for (const namespace of mine) {
      await attempt(() => killProcessesIn(namespace));
      await attempt(() => ip(['netns', 'delete', namespace]));
    }
    if (failures.length > 0) throw new Error(`network cleanup: ${failures.join('; ')}`);
  }

  private async makeSwitch(): Promise<void> {
    await ip(['netns', 'add', this.switchNamespace]);
    await ip(['-n', this.switchNamespace, 'link', 'add', 'bridge', 'type', 'bridge']);
    await ip(['-n', this.switchNamespace, 'link', 'set', 'bridge', 'up']);
    // The root namespace's own link: made there, its switch end moved into the switch namespace.
    await ip([
      'link',
      'add',
      this.rootInterface,
      'type',
      'veth',
      'peer',
      'name',
      'root',
      'netns',
      this.switchNamespace,
    ]);
    await ip(['-n', this.switchNamespace, 'link', 'set', 'root', 'master', 'bridge', 'up']);
    await ip(['address', 'add', `${this.rootAddress}/24`, 'dev', this.rootInterface]);
    await ip(['link', 'set', this.rootInterface, 'up']);
  }

  /** A veth pair whose end `name` is in the switch, on the bridge and up; `peer` says where the other end goes. */
  private async plug(name: string, peer: readonly string[]): Promise<void> {
    await ip(['-n', this.switchNamespace, 'link', 'add', name, 'type', 'veth', ...peer]);
    await ip(['-n', this.switchNamespace, 'link', 'set', name, 'master', 'bridge', 'up']);
  }
}

async function ip(args: readonly string[]): Promise<string> {
  try {
    const { stdout } = await execFileAsync('ip', args);
    return stdout;
  } catch (error) {
    throw new Error(`ip ${args.join(' ')}: ${commandError(error)}`);
  }
}

async function listNamespaces(): Promise<string[]> {
  // Each line: "NAME" or "NAME (id: N)".
  return (await ip(['netns', 'list']))
    .split('\n')
    .map((line) => line.split(' ')[0] ?? '')
    .filter((name) => name.startsWith(NAMESPACE_PREFIX));
}

async function killProcessesIn(namespace: string): Promise<void> {
  const pids = (await ip(['netns', 'pids', namespace]))
    .split('\n')
    .filter((line) => /^\d+$/.test(line))
    .map(Number);
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Gone already.
    }
  }
}

async function interfaceExists(name: string): Promise<boolean> {
  try {
    await ip(['link', 'show', 'dev', name]);
    return true;
  } catch {
    return false;
  }
}

/** The first three octets of a 10.213.X.0/24 that no address or route of this namespace touches. */
async function freeSubnet(): Promise<string> {
  const inUse =
    (await ip(['-4', '-o', 'address', 'show'])) + (await ip(['-4', 'route', 'show', 'table', 'all']));
  const start = randomInt(256);
  for (let step = 0; step < 256; step++) {
    const subnet = `${SUBNET_PREFIX}.${(start + step) % 256}`;
    if (!inUse.includes(`${subnet}.`)) return subnet;
  }
  throw new Error(`every ${SUBNET_PREFIX}.X.0/24 is in use on this machine`);
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function commandError(error: unknown): string {
  const stderr = (error as { stderr?: unknown }).stderr;
  const text = typeof stderr === 'string' ? stderr : Buffer.isBuffer(stderr) ? stderr.toString() : '';
  return text.trim() === '' ? String(error) : text.trim();
}
