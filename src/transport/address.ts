// "host:port" addresses as they appear in configuration and in the protocol. IPv6 hosts are
// bracketed ("[::1]:7000") because the colon would otherwise be ambiguous.

import { isIPv6 } from 'node:net';
import { ConfigError } from '../errors.js';

const PORT_MAX = 65535;
const HOSTNAME = /^[A-Za-z0-9._-]+$/;

export function parseAddress(text: string): { host: string; port: number } {
  const match = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(text);
  const port = Number(match?.[3]);
  const host = match?.[1] ?? match?.[2];
  const hostValid = match?.[1] !== undefined ? isIPv6(match[1]) : host !== undefined && HOSTNAME.test(host);
  if (host === undefined || !hostValid || !(port <= PORT_MAX)) {
    throw new ConfigError(`bad address ${JSON.stringify(text)}: expected host:port or [ipv6]:port`);
  }
  return { host, port };
}

/**
 * The host (unbracketed) and port of an address already known to be host:port or [ipv6]:port, as
 * strings, the way Redis's replies give them; never throws (parseAddress checks).
 */
export function hostAndPort(address: string): [string, string] {
  const at = address.lastIndexOf(':');
  return [address.slice(0, at).replace(/^\[|\]$/g, ''), address.slice(at + 1)];
}

export function formatAddress(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/**
 * Where clients should dial a port bound at `bound`: itself, unless it listens on every interface
 * (0.0.0.0 or ::), which names no host to dial; then the host of `peerAddress` (the process's
 * advertised cluster address), and 127.0.0.1 if that is a wildcard too.
 */
export function dialableAddress(bound: string, peerAddress: string): string {
  const wildcard = (host: string) => host === '0.0.0.0' || host === '::';
  const { host, port } = parseAddress(bound);
  if (!wildcard(host)) return bound;
  const peer = parseAddress(peerAddress).host;
  return formatAddress(wildcard(peer) ? '127.0.0.1' : peer, port);
}
