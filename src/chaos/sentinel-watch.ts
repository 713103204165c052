// A subscriber on every coordinator's Sentinel port through the run, as a Sentinel client keeps one
// (Jedis on each Sentinel, Lettuce's topology refresh on `*`): it PSUBSCRIBEs `*` and checks each
// message as a client would read it. Every address a message names must be a Redis port some replica
// of this run had, under the cluster's name: a message that names another, or has a shape no Sentinel
// event has, fails the run. The report counts the messages by channel.

import { formatAddress, parseAddress } from '../transport/address.js';
import { RedisPortClient, type RedisReply } from './redis-port-client.js';

/** How often the watch looks for Sentinel ports it has no subscriber on (a restarted coordinator's). */
const WATCH_POLL_MS = 500;
const CONNECT_TIMEOUT_MS = 2_000;

/** `host:port` of `ip` and `port` as a message gives them, or null if they are no address. */
function addressOf(ip: string | undefined, port: string | undefined): string | null {
  if (ip === undefined || port === undefined || !/^\d{1,5}$/.test(port)) return null;
  const address = formatAddress(ip, Number(port));
  try {
    parseAddress(address);
    return address;
  } catch {
    return null;
  }
}

/**
 * What is wrong with a Sentinel message on `channel`, or null: the shapes the Sentinel port
 * publishes (sentinel-events.ts and `+switch-master`), each address one `isRunAddress` knows.
 */
export function sentinelMessageProblem(
  channel: string,
  payload: string,
  masterName: string,
  isRunAddress: (address: string) => boolean,
): string | null {
  const words = payload.split(' ');
  const bad = (why: string) => `${channel} "${payload}": ${why}`;
  const named = (ip: string | undefined, port: string | undefined, what: string): string | null => {
    const address = addressOf(ip, port);
    if (address === null) return bad(`${what} is not an address`);
    return isRunAddress(address) ? null : bad(`${what} ${address} is not a Redis port of the run`);
  };
  if (channel === '+switch-master') {
    if (words.length !== 5 || words[0] !== masterName)
      return bad('not <name> <old ip> <old port> <new ip> <new port>');
    return named(words[1], words[2], 'the old master') ?? named(words[3], words[4], 'the new master');
  }
  const [kind, name, ip, port] = words;
  if (kind === 'master' && ['+sdown', '+odown', '+failover-end'].includes(channel)) {
    const tail = channel === '+odown' ? ['#quorum', '1/1'] : [];
    if (
      name !== masterName ||
      words.length !== 4 + tail.length ||
      words.slice(4).join(' ') !== tail.join(' ')
    ) {
      return bad(`not master ${masterName} <ip> <port>${tail.length > 0 ? ` ${tail.join(' ')}` : ''}`);
    }
    return named(ip, port, 'the master');
  }
  if (kind === 'slave' && ['+slave', '+sdown', '-sdown'].includes(channel)) {
    // slave <ip>:<port> <ip> <port> @ <name> <master ip> <master port>
    if (words.length !== 8 || words[4] !== '@' || words[5] !== masterName || name !== addressOf(ip, port)) {
      return bad(`not slave <ip>:<port> <ip> <port> @ ${masterName} <master ip> <master port>`);
    }
    return named(ip, port, 'the replica') ?? named(words[6], words[7], 'the master');
  }
  return bad('no event the Sentinel port publishes');
}

export interface SentinelWatchOptions {
  /** Where the coordinators' Sentinel ports listen now. */
  readonly sentinelPorts: () => readonly string[];
  readonly isRunAddress: (address: string) => boolean;
  readonly masterName: string;
}

export class SentinelWatch {
  /** Messages heard, by channel. */
  readonly heard = new Map<string, number>();
  /** Messages no Sentinel port may publish (the run fails on any). */
  readonly malformed: string[] = [];
  readonly #subscribers = new Map<string, RedisPortClient | 'connecting'>();
  readonly #timer: NodeJS.Timeout;
  #stopped = false;

  constructor(private readonly options: SentinelWatchOptions) {
    this.#timer = setInterval(() => this.#subscribeAll(), WATCH_POLL_MS);
    this.#subscribeAll();
  }

  stop(): void {
    this.#stopped = true;
    clearInterval(this.#timer);
    for (const subscriber of this.#subscribers.values()) if (subscriber !== 'connecting') subscriber.close();
    this.#subscribers.clear();
  }

  #subscribeAll(): void {
    for (const address of this.options.sentinelPorts()) {
      if (this.#subscribers.has(address)) continue;
      this.#subscribers.set(address, 'connecting');
      // Down (a killed coordinator), or gone: tried again at the next poll.
      this.#subscribe(address).catch(() => {
        if (this.#subscribers.get(address) === 'connecting') this.#subscribers.delete(address);
      });
    }
  }

  /** Subscribes at `address`; a connection that fails or closes, then or later, is forgotten. */
  async #subscribe(address: string): Promise<void> {
    const subscriber = await RedisPortClient.connect(address, CONNECT_TIMEOUT_MS);
    if (this.#stopped) {
      subscriber.close();
      return;
    }
    this.#subscribers.set(address, subscriber);
    subscriber.onClosed = () => {
      if (this.#subscribers.get(address) === subscriber) this.#subscribers.delete(address);
    };
    subscriber.onPush = (reply) => this.#message(reply);
    await subscriber.command(['PSUBSCRIBE', '*'], CONNECT_TIMEOUT_MS);
  }

  #message(reply: RedisReply): void {
    const [kind, , channel, payload] = Array.isArray(reply) ? reply : [];
    if (
      !Buffer.isBuffer(kind) ||
      kind.toString() !== 'pmessage' ||
      !Buffer.isBuffer(channel) ||
      !Buffer.isBuffer(payload)
    ) {
      this.malformed.push(`a Sentinel port's subscriber got ${JSON.stringify(reply)}, no pmessage`);
      return;
    }
    const name = channel.toString();
    this.heard.set(name, (this.heard.get(name) ?? 0) + 1);
    const problem = sentinelMessageProblem(
      name,
      payload.toString(),
      this.options.masterName,
      this.options.isRunAddress,
    );
    if (problem !== null) this.malformed.push(`a Sentinel port published ${problem}`);
  }
}
