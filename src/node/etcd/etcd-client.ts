// A small client of etcd's v3 HTTP/JSON gateway (the grpc-gateway every etcd member serves beside
// gRPC), through node:http and node:https: the handful of calls the coordinator needs (range, txn,
// lease grant, keepalive, revoke), so it needs no client library. Keys and values travel base64; int64
// fields (revisions, lease ids) are decimal strings, and proto3 JSON leaves out zero values. Over
// https it trusts the system's CAs (and NODE_EXTRA_CA_CERTS), or only the CA it is given, and can
// present a client certificate, for an etcd that runs with --client-cert-auth (as etcdctl's --cacert,
// --cert and --key); `fetch` takes neither. Connections are kept alive between calls (the leadership
// lease is renewed several times a second), and an idle one does not keep the process running.
//
// It is given every member's URL and sticks to the one that answered last; a member that cannot be
// reached, answers 5xx, or does not answer in time is skipped for the next one, so one lost member
// costs one timeout at most. Answers are untrusted input: anything malformed is an EtcdError.

import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { ConfigError, UnderstudyError } from '../../errors.js';
import { ErrorCode } from '../../protocol/error-codes.js';

/** One attempt at one member; a call tries each member once. */
export const ETCD_REQUEST_TIMEOUT_MS_DEFAULT = 1_000;
/** An answer larger than this is not etcd's to the calls made here (the state is kilobytes). */
const ANSWER_BYTES_MAX = 16 * 1024 * 1024;

/** How to reach etcd over https: whom to trust, and the client certificate to present. */
export interface EtcdTls {
  /** PEM of the CAs to trust instead of the system's. */
  readonly ca?: string | Buffer;
  /** PEM of the client certificate and its key (both or neither). */
  readonly cert?: string | Buffer;
  readonly key?: string | Buffer;
}

/** etcd could not be reached, or answered something we do not understand. */
export class EtcdError extends UnderstudyError {
  override name = 'EtcdError';
  constructor(message: string) {
    super(ErrorCode.unavailable, message);
  }
}

export interface KeyValue {
  readonly value: Buffer;
  readonly createRevision: number;
  readonly modRevision: number;
  /** The lease the key is attached to, or '0'. */
  readonly lease: string;
}

export interface RangeResult {
  readonly kv: KeyValue | null;
  /** The store's revision when it answered. */
  readonly revision: number;
}

/** One condition of a transaction: a key's create or mod revision equals a number (0: the key is absent). */
export interface Compare {
  readonly key: string;
  readonly target: 'CREATE' | 'MOD';
  readonly revision: number;
}

export interface Put {
  readonly key: string;
  readonly value: Buffer;
  /** Attach the key to this lease (it is deleted when the lease expires). */
  readonly lease?: string;
}

export interface TxnResult {
  readonly succeeded: boolean;
  /** The store's revision after the transaction: a put that succeeded has this mod revision. */
  readonly revision: number;
  /** On failure: the key read back (the failure branch ranges over the first compare's key). */
  readonly current: KeyValue | null;
}

export class EtcdClient {
  private readonly endpoints: readonly string[];
  private preferred = 0;
  private readonly httpAgent = new HttpAgent({ keepAlive: true });
  private readonly httpsAgent: HttpsAgent;

  constructor(
    endpoints: readonly string[],
    private readonly requestTimeoutMs = ETCD_REQUEST_TIMEOUT_MS_DEFAULT,
    tls: EtcdTls = {},
  ) {
    if (endpoints.length === 0) throw new ConfigError('--etcd needs at least one URL');
    this.endpoints = endpoints.map(parseEndpoint);
    if ((tls.cert === undefined) !== (tls.key === undefined)) {
      throw new ConfigError('an etcd client certificate and its key go together');
    }
    if (Object.values(tls).some((value) => value !== undefined) && !this.endpoints.some(isHttps)) {
      throw new ConfigError('etcd TLS settings are for https:// URLs, and --etcd gives none');
    }
    this.httpsAgent = new HttpsAgent({ keepAlive: true, ...tls });
  }

  /** Closes the connections kept for the next call. */
  close(): void {
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
  }

  async range(key: string): Promise<RangeResult> {
    const answer = await this.call('/v3/kv/range', { key: encode(key) });
    const kvs = answer.kvs;
    const first: unknown = Array.isArray(kvs) ? kvs[0] : undefined;
    return { kv: first === undefined ? null : keyValue(first), revision: headerRevision(answer) };
  }

  /** Every key under `prefix`, in key order (etcd's range up to the prefix's end). */
  async rangePrefix(prefix: string): Promise<KeyValue[]> {
    const start = Buffer.from(prefix, 'utf8');
    const answer = await this.call('/v3/kv/range', {
      key: start.toString('base64'),
      range_end: prefixEnd(start).toString('base64'),
    });
    return Array.isArray(answer.kvs) ? answer.kvs.map(keyValue) : [];
  }

  /** If every compare holds, the puts; otherwise reads the first compare's key back. */
  async txn(compares: readonly Compare[], puts: readonly Put[]): Promise<TxnResult> {
    const first = compares[0];
    const answer = await this.call('/v3/kv/txn', {
      compare: compares.map((compare) => ({
        key: encode(compare.key),
        target: compare.target,
        result: 'EQUAL',
        [compare.target === 'CREATE' ? 'create_revision' : 'mod_revision']: String(compare.revision),
      })),
      success: puts.map((put) => ({
        request_put: {
          key: encode(put.key),
          value: put.value.toString('base64'),
          ...(put.lease === undefined ? {} : { lease: put.lease }),
        },
      })),
      failure: first === undefined ? [] : [{ request_range: { key: encode(first.key) } }],
    });
    const succeeded = answer.succeeded === true;
    let current: KeyValue | null = null;
    if (!succeeded && Array.isArray(answer.responses)) {
      const range: unknown = (answer.responses[0] as { response_range?: { kvs?: unknown[] } } | undefined)
        ?.response_range?.kvs?.[0];
      current = range === undefined ? null : keyValue(range);
    }
    return { succeeded, revision: headerRevision(answer), current };
  }

  /** A new lease of `ttlSeconds` (etcd may raise it to its minimum); its id and granted TTL. */
  async grantLease(ttlSeconds: number): Promise<{ id: string; ttlSeconds: number }> {
    const answer = await this.call('/v3/lease/grant', { TTL: String(ttlSeconds) });
    const id = answer.ID;
    if (typeof id !== 'string' || !/^\d+$/.test(id)) throw new EtcdError('lease grant answered no lease id');
    return { id, ttlSeconds: integer(answer.TTL) };
  }

  /** Renews the lease; its remaining TTL in seconds, 0 when etcd no longer has it. */
  async keepAlive(id: string): Promise<number> {
    const answer = await this.call('/v3/lease/keepalive', { ID: id });
    const result = answer.result;
    if (typeof result !== 'object' || result === null)
      throw new EtcdError('lease keepalive answered no result');
    return integer((result as Record<string, unknown>).TTL);
  }

  async revokeLease(id: string): Promise<void> {
    await this.call('/v3/lease/revoke', { ID: id });
  }

  /** Tries each member once, starting with the one that answered last. */
  private async call(path: string, body: object): Promise<Record<string, unknown>> {
    const failures: string[] = [];
    for (let attempt = 0; attempt < this.endpoints.length; attempt += 1) {
      const index = (this.preferred + attempt) % this.endpoints.length;
      const endpoint = this.endpoints[index] as string;
      let response: { readonly status: number; readonly text: string };
      try {
        response = await this.post(`${endpoint}${path}`, JSON.stringify(body));
      } catch (error) {
        failures.push(`${endpoint}: ${describeRequestError(error)}`);
        continue;
      }
      const { text } = response;
      if (response.status >= 500) {
        failures.push(`${endpoint}: HTTP ${response.status} ${text.slice(0, 200)}`);
        continue;
      }
      this.preferred = index;
      let answer: unknown;
      try {
        answer = JSON.parse(text);
      } catch {
        throw new EtcdError(`${endpoint}${path} answered HTTP ${response.status} with no JSON`);
      }
      if (typeof answer !== 'object' || answer === null || Array.isArray(answer)) {
        throw new EtcdError(`${endpoint}${path} answered HTTP ${response.status} with no JSON object`);
      }
      if (response.status !== 200) {
        const message = (answer as { message?: unknown }).message;
        throw new EtcdError(`${endpoint}${path} refused: HTTP ${response.status} ${String(message)}`);
      }
      return answer as Record<string, unknown>;
    }
    throw new EtcdError(`no etcd member answered ${path}: ${failures.join('; ')}`);
  }

  /** One POST, its status and body; fails on no answer within the request timeout, or a huge one. */
  private post(url: string, body: string): Promise<{ readonly status: number; readonly text: string }> {
    const secure = isHttps(url);
    return new Promise((resolve, reject) => {
      const onResponse = (response: IncomingMessage) => {
        const chunks: Buffer[] = [];
        let bytes = 0;
        response.on('data', (chunk: Buffer) => {
          bytes += chunk.length;
          if (bytes > ANSWER_BYTES_MAX)
            request.destroy(new Error(`an answer of more than ${ANSWER_BYTES_MAX} bytes`));
          else chunks.push(chunk);
        });
        response.on('end', () =>
          resolve({ status: response.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }),
        );
        response.on('error', reject);
      };
      const options = {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
      };
      const request = secure
        ? httpsRequest(url, { ...options, agent: this.httpsAgent }, onResponse)
        : httpRequest(url, { ...options, agent: this.httpAgent }, onResponse);
      const timer = setTimeout(() => request.destroy(new RequestTimeout()), this.requestTimeoutMs);
      request.on('error', reject);
      request.on('close', () => clearTimeout(timer));
      request.end(body);
    });
  }
}

class RequestTimeout extends Error {
  override name = 'RequestTimeout';
}

const isHttps = (url: string): boolean => url.startsWith('https:');

/** "http://host:port" with no path; a ConfigError for anything else. */
function parseEndpoint(text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new ConfigError(`bad etcd URL ${JSON.stringify(text)}: expected http://host:port`);
  }
  if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.host === '') {
    throw new ConfigError(`bad etcd URL ${JSON.stringify(text)}: expected http://host:port`);
  }
  if (url.pathname !== '/' || url.search !== '' || url.username !== '') {
    throw new ConfigError(`bad etcd URL ${JSON.stringify(text)}: give only scheme, host and port`);
  }
  return `${url.protocol}//${url.host}`;
}

const encode = (key: string): string => Buffer.from(key, 'utf8').toString('base64');

/** The first key past every key that starts with `prefix`: its last byte below 0xff raised by one. */
function prefixEnd(prefix: Buffer): Buffer {
  const end = Buffer.from(prefix);
  for (let at = end.length - 1; at >= 0; at -= 1) {
    if ((end[at] as number) < 0xff) {
      end[at] = (end[at] as number) + 1;
      return end.subarray(0, at + 1);
    }
  }
  return Buffer.from([0]); // every key (etcd's "\0" range end)
}

/** proto3 JSON: an absent int64 is 0, a present one a decimal string. */
function integer(value: unknown): number {
  if (value === undefined) return 0;
  const parsed = typeof value === 'string' && /^-?\d+$/.test(value) ? Number(value) : Number.NaN;
  if (!Number.isSafeInteger(parsed))
    throw new EtcdError(`etcd answered ${JSON.stringify(value)} for a number`);
  return parsed;
}

function headerRevision(answer: Record<string, unknown>): number {
  const header = answer.header;
  if (typeof header !== 'object' || header === null) throw new EtcdError('etcd answered no header');
  return integer((header as Record<string, unknown>).revision);
}

function keyValue(value: unknown): KeyValue {
  if (typeof value !== 'object' || value === null) throw new EtcdError('etcd answered a malformed key');
  const fields = value as Record<string, unknown>;
  const data = fields.value ?? '';
  if (typeof data !== 'string') throw new EtcdError('etcd answered a malformed value');
  const lease = fields.lease ?? '0';
  if (typeof lease !== 'string') throw new EtcdError('etcd answered a malformed lease');
  return {
    value: Buffer.from(data, 'base64'),
    createRevision: integer(fields.create_revision),
    modRevision: integer(fields.mod_revision),
    lease,
  };
}

function describeRequestError(error: unknown): string {
  if (error instanceof RequestTimeout) return 'no answer in time';
  const code = error instanceof Error ? (error as NodeJS.ErrnoException).code : undefined;
  const message = error instanceof Error ? error.message : String(error);
  // A TLS refusal's code alone (ERR_SSL_...) hides which side refused and why.
  return typeof code === 'string' && !message.includes(code) ? `${code}: ${message}` : message;
}
