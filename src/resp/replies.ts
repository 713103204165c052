// RESP2 replies: the five types (simple string, error, integer, bulk string, array) and the null
// bulk string and null array, built as values and written out in one buffer per reply. A simple
// string or an error is one line, so any CR or LF in its text is replaced by a space: a message
// must never split the stream.

export type RespReply =
  | { readonly type: 'simple'; readonly text: string }
  | { readonly type: 'error'; readonly text: string }
  | { readonly type: 'integer'; readonly value: number }
  | { readonly type: 'bulk'; readonly bytes: Uint8Array | null }
  | { readonly type: 'array'; readonly items: readonly RespReply[] | null }
  /** Already in RESP: a long reply built a part at a time (KEYS), with no object per item. */
  | { readonly type: 'encoded'; readonly bytes: Uint8Array };

export const reply = {
  ok: { type: 'simple', text: 'OK' } as RespReply,
  simple: (text: string): RespReply => ({ type: 'simple', text }),
  /** `text` starts with the error's prefix: `ERR ...`, `NOPROTO ...`, `UNAVAILABLE ...`. */
  error: (text: string): RespReply => ({ type: 'error', text }),
  integer: (value: number): RespReply => ({ type: 'integer', value }),
  bulk: (bytes: Uint8Array | string | null): RespReply => ({
    type: 'bulk',
    bytes: typeof bytes === 'string' ? Buffer.from(bytes, 'utf8') : bytes,
  }),
  nullBulk: { type: 'bulk', bytes: null } as RespReply,
  array: (items: readonly RespReply[] | null): RespReply => ({ type: 'array', items }),
  encoded: (bytes: Uint8Array): RespReply => ({ type: 'encoded', bytes }),
} as const;

/** `items` as RESP bulk strings, one after another in one buffer (the items of an array, without its header). */
export function encodeBulkStrings(items: readonly Uint8Array[]): Buffer {
  let size = 0;
  for (const item of items) size += String(item.byteLength).length + item.byteLength + 5;
  const out = Buffer.allocUnsafe(size);
  let at = 0;
  for (const item of items) {
    at += out.write(`$${item.byteLength}\r\n`, at, 'latin1');
    out.set(item, at);
    at += item.byteLength;
    at += out.write('\r\n', at, 'latin1');
  }
  return out;
}

const lineBreaks = /[\r\n]/g;

export function encodeReply(value: RespReply): Buffer {
  const parts: (string | Uint8Array)[] = [];
  collect(value, parts);
  return Buffer.concat(parts.map((part) => (typeof part === 'string' ? Buffer.from(part, 'utf8') : part)));
}

function collect(value: RespReply, parts: (string | Uint8Array)[]): void {
  switch (value.type) {
    case 'simple':
      parts.push(`+${value.text.replace(lineBreaks, ' ')}\r\n`);
      return;
    case 'error':
      parts.push(`-${value.text.replace(lineBreaks, ' ')}\r\n`);
      return;
    case 'integer':
      parts.push(`:${value.value}\r\n`);
      return;
    case 'bulk':
      if (value.bytes === null) parts.push('$-1\r\n');
      else parts.push(`$${value.bytes.byteLength}\r\n`, value.bytes, '\r\n');
      return;
    case 'encoded':
      parts.push(value.bytes);
      return;
    case 'array':
      if (value.items === null) {
        parts.push('*-1\r\n');
        return;
      }
      parts.push(`*${value.items.length}\r\n`);
      for (const item of value.items) collect(item, parts);
  }
}
