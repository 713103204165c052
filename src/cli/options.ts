// Flag parsing shared by the commands: every value is checked when commander reads it, so a bad
// flag is a usage error (exit 2) before anything connects or starts.

import { type Command, InvalidArgumentError, Option } from 'commander';
import { CLUSTER_ID_DEFAULT } from '../client/index.js';
import { ConfigError } from '../errors.js';
import { type Durability, durabilities } from '../protocol/types.js';
import { formatAddress, parseAddress } from '../transport/index.js';
import { variableOfFlags } from './settings/setting-variables.js';

export const COORDINATOR_ADDRESS_DEFAULT = '127.0.0.1:7000';
export const CLI_TIMEOUT_MS_DEFAULT = 10_000;
export const CLI_TIMEOUT_MS_MAX = 24 * 60 * 60 * 1000;
export const PORT_MAX = 65535;
/** The largest staleness bound `get --any --max-staleness` takes: a day. */
export const MAX_STALENESS_MS_MAX = 24 * 60 * 60 * 1000;

export { exitCode } from './exit-code.js';

/** An integer parser for commander that refuses anything outside [min, max]. */
export function integerIn(min: number, max: number): (text: string) => number {
  return (text) => {
    const value = Number(text);
    if (!/^-?\d+$/.test(text.trim()) || !Number.isSafeInteger(value) || value < min || value > max) {
      throw new InvalidArgumentError(`expected an integer from ${min} to ${max}.`);
    }
    return value;
  };
}

/** A decimal-number parser for commander that refuses anything outside [min, max]. */
export function decimalIn(min: number, max: number): (text: string) => number {
  return (text) => {
    const value = Number(text);
    if (!/^\d+(\.\d+)?$/.test(text.trim()) || value < min || value > max) {
      throw new InvalidArgumentError(`expected a number from ${min} to ${max}.`);
    }
    return value;
  };
}

/** A "host:port" parser for commander; `portMin` 0 allows "pick a free port". */
export function address(portMin: number): (text: string) => string {
  return (text) => {
    try {
      const { port } = parseAddress(text);
      if (port < portMin) throw new ConfigError(`port ${port} is below ${portMin}`);
    } catch (error) {
      if (error instanceof ConfigError) throw new InvalidArgumentError(`${error.message}.`);
      throw error;
    }
    return text;
  };
}

/** Where an admin port listens when `--admin` names only a port: this machine only. */
export const ADMIN_HOST_DEFAULT = '127.0.0.1';

/** An `--admin` value: "host:port", or a port alone for ADMIN_HOST_DEFAULT; port 0 picks a free one. */
export function adminAddress(text: string): string {
  const trimmed = text.trim();
  if (/^\d+$/.test(trimmed)) {
    const port = Number(trimmed);
    if (port > PORT_MAX)
      throw new InvalidArgumentError(`expected [host:]port with a port from 0 to ${PORT_MAX}.`);
    return formatAddress(ADMIN_HOST_DEFAULT, port);
  }
  try {
    parseAddress(trimmed);
  } catch (error) {
    if (error instanceof ConfigError) {
      throw new InvalidArgumentError(`expected [host:]port (a port alone listens on ${ADMIN_HOST_DEFAULT}).`);
    }
    throw error;
  }
  return trimmed;
}

/** A `--resp` value, read as an `--admin` one: [host:]port, a port alone on ADMIN_HOST_DEFAULT. */
export const respAddress = adminAddress;

export function nonEmpty(what: string): (text: string) => string {
  return (text) => {
    if (text.trim() === '') throw new InvalidArgumentError(`${what} must not be empty.`);
    return text;
  };
}

/** A comma-separated list of distinct, non-empty ids. */
export function idList(what: string): (text: string) => string[] {
  return (text) => {
    const ids = text.split(',').map((id) => id.trim());
    if (ids.some((id) => id === '')) throw new InvalidArgumentError(`${what} needs ids separated by commas.`);
    if (new Set(ids).size !== ids.length) throw new InvalidArgumentError(`${what} names an id twice.`);
    return ids;
  };
}

/** A comma-separated list of distinct "host:port" addresses, each with a port from 1 up. */
export function addressList(what: string): (text: string) => string[] {
  const one = address(1);
  return (text) => {
    const addresses = text.split(',').map((entry) => entry.trim());
    if (addresses.some((entry) => entry === '')) {
      throw new InvalidArgumentError(`${what} needs host:port addresses separated by commas.`);
    }
    if (new Set(addresses).size !== addresses.length) {
      throw new InvalidArgumentError(`${what} names an address twice.`);
    }
    return addresses.map(one);
  };
}

/** `--coordinator`: one host:port, or (the coordinator on etcd) several, comma-separated; kept as text. */
export function coordinatorList(what: string): (text: string) => string {
  const list = addressList(what);
  return (text) => list(text).join(',');
}

/** `--etcd`: etcd members' client URLs (http://host:port), comma-separated. */
export function urlList(what: string): (text: string) => string[] {
  return (text) => {
    const urls = text.split(',').map((entry) => entry.trim());
    for (const url of urls) {
      let parsed: URL | null = null;
      try {
        parsed = new URL(url);
      } catch {
        parsed = null;
      }
      if (
        parsed === null ||
        !['http:', 'https:'].includes(parsed.protocol) ||
        parsed.host === '' ||
        parsed.pathname !== '/'
      ) {
        throw new InvalidArgumentError(
          `${what} needs URLs like http://host:2379, separated by commas; got ${JSON.stringify(url)}.`,
        );
      }
    }
    return urls;
  };
}

export interface ClientFlags {
  readonly coordinator: string;
  readonly clusterId: string;
  readonly tlsCa?: string;
  readonly tlsCert?: string;
  readonly tlsKey?: string;
  readonly tokenFile?: string;
  readonly timeout: number;
  readonly json?: boolean;
}

export interface WriteFlags extends ClientFlags {
  readonly async?: boolean;
  readonly durability?: Durability;
}

/** An option that also reads its environment variable (UNDERSTUDY_..., the rule of every command). */
function withVariable(flags: string, help: string): Option {
  return new Option(flags, help).env(variableOfFlags(flags));
}

/**
 * The flags of every command that talks to a cluster as a client. The coordinator's address and the
 * cluster id may come from UNDERSTUDY_COORDINATOR and UNDERSTUDY_CLUSTER_ID too (a flag wins).
 */
export function addClientOptions(command: Command, { write = false } = {}): Command {
  command
    .addOption(
      withVariable(
        '--coordinator <host:port>',
        'coordinator address; on etcd, every coordinator, comma-separated (the leader is found among them)',
      )
        .argParser(coordinatorList('--coordinator'))
        .default(COORDINATOR_ADDRESS_DEFAULT),
    )
    .addOption(
      withVariable('--cluster-id <id>', 'cluster id, must match the servers')
        .argParser(nonEmpty('--cluster-id'))
        .default(CLUSTER_ID_DEFAULT),
    )
    // A cluster run with --tls-ca speaks TLS on its client ports too; a client certificate is optional.
    .addOption(withVariable('--tls-ca <file>', "the cluster's CA certificate (PEM): connect over TLS"))
    .addOption(
      withVariable('--tls-cert <file>', 'a client certificate (PEM) to show the servers, with --tls-key'),
    )
    .addOption(withVariable('--tls-key <file>', 'the private key (PEM) of --tls-cert'))
    // A file, or the UNDERSTUDY_TOKEN variable: never the token itself on the command line (`ps` shows it).
    .addOption(
      withVariable(
        '--token-file <file>',
        'a file holding the token for a cluster run with --auth-file (default: the UNDERSTUDY_TOKEN variable); ' +
          'switchover and snapshot save need an admin token',
      ),
    );
  command
    .option(
      '--timeout <ms>',
      'deadline of each call in milliseconds, retries included',
      integerIn(1, CLI_TIMEOUT_MS_MAX),
      CLI_TIMEOUT_MS_DEFAULT,
    )
    .option('--json', 'print one JSON object on stdout');
  if (write) {
    command
      .addOption(
        new Option(
          '--durability <level>',
          "when the write is acknowledged: sync (on every replica's disk), replicated (on the primary's disk and every backup's memory), async (on the primary's disk; may be lost on failover)",
        )
          .choices(durabilities)
          .conflicts('async'),
      )
      .option('--async', 'the same as --durability async');
  }
  return command;
}
