// MEMORY USAGE and OBJECT: what a key costs and how Redis would hold it, for the tools that ask
// (redis-cli --memkeys, RedisInsight). Each is one read of the store, planned like GET, so it runs at
// the primary (or at this replica on a READONLY connection), pipelines and queues in MULTI.
//
// MEMORY USAGE counts what the store counts against its limit (INFO's used_memory): the key's bytes,
// the value's, and entryOverheadBytes a key. OBJECT ENCODING names the encoding Redis would give the
// value had it been SET (int, embstr up to 44 bytes, raw): Understudy keeps every value as bytes,
// so the answer is for tools that group keys by it, not a fact of this store. OBJECT FREQ and IDLETIME
// are refused for a key that exists: nothing here counts reads or keeps when a key was last used
// (replicas apply writes, and reads leave no trace), and a made-up number would mislead more.

import { asBuffer } from '../buffers.js';
import { entryOverheadBytes, kvOperation } from '../state-machine/index.js';
import { integerArgument, lowerName } from './arguments.js';
import { type CommandSpec, helpReply, type Planned, unknownSubcommand } from './command-table.js';
import { kvCommand, planOf } from './kv-commands.js';
import { reply } from './replies.js';

const arg = (args: readonly Buffer[], at: number): Buffer => args[at] as Buffer; // the arity was checked

/** Redis's largest value kept as embstr: one allocation with the object header. */
const embeddedStringBytesMax = 44;
/** A value Redis would keep as a 64-bit integer: decimal, no leading zeros or sign but '-'. */
const integerPattern = /^(0|-?[1-9][0-9]{0,18})$/;

function redisEncodingOf(value: Uint8Array): 'int' | 'embstr' | 'raw' {
  if (value.byteLength <= 20) {
    const text = asBuffer(value).toString('latin1');
    if (integerPattern.test(text)) {
      const number = BigInt(text);
      if (number >= -(2n ** 63n) && number < 2n ** 63n) return 'int';
    }
  }
  return value.byteLength <= embeddedStringBytesMax ? 'embstr' : 'raw';
}

const memoryHelp = [
  'MEMORY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:',
  'USAGE <key> [SAMPLES <count>]',
  '    Return the bytes the key counts against the store limit: its key, its value and the',
  `    ${entryOverheadBytes} bytes each key is counted besides (SAMPLES is accepted and has no use here).`,
  'HELP',
  '    Print this help.',
];

function memory(args: readonly Buffer[]): Planned {
  const subcommand = lowerName(arg(args, 1));
  if (subcommand === 'help') return helpReply(memoryHelp);
  if (subcommand !== 'usage') return unknownSubcommand(args, 'MEMORY');
  if (args.length < 3) return reply.error("ERR wrong number of arguments for 'memory|usage' command");
  if (args.length !== 3) {
    // Redis samples the elements of aggregate types; a string has none, so only the syntax is checked.
    if (args.length !== 5 || lowerName(arg(args, 3)) !== 'samples') return reply.error('ERR syntax error');
    if (integerArgument(arg(args, 4)) < 0) return reply.error('ERR syntax error');
  }
  const key = arg(args, 2);
  return planOf(kvOperation.lengths([key]), ({ lengths }) => {
    const length = lengths[0];
    return length === null || length === undefined
      ? reply.nullBulk
      : reply.integer(key.byteLength + length + entryOverheadBytes);
  });
}

const objectHelp = [
  'OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:',
  'ENCODING <key>',
  '    Return the encoding Redis would give the value of <key>: int, embstr or raw.',
  'FREQ <key>',
  '    Refused: access frequencies are not tracked (the policy at the memory limit is noeviction).',
  'IDLETIME <key>',
  '    Refused: when a key was last used is not kept.',
  'REFCOUNT <key>',
  '    Return the number of references of the value of <key>: 1.',
  'HELP',
  '    Print this help.',
];

/** OBJECT's refusals for what is not tracked, as Redis answers FREQ without an LFU policy. */
const notTracked: Readonly<Record<'freq' | 'idletime', string>> = {
  freq: 'ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.',
  idletime:
    'ERR Understudy does not keep when a key was last used (reads leave no trace on the replicas), so OBJECT IDLETIME has no answer.',
};

function object(args: readonly Buffer[]): Planned {
  const subcommand = lowerName(arg(args, 1));
  if (subcommand === 'help') return helpReply(objectHelp);
  if (!['encoding', 'refcount', 'freq', 'idletime'].includes(subcommand))
    return unknownSubcommand(args, 'OBJECT');
  if (args.length !== 3)
    return reply.error(`ERR wrong number of arguments for 'object|${subcommand}' command`);
  const key = arg(args, 2);
  if (subcommand === 'encoding') {
    return planOf(kvOperation.get(key), ({ value }) =>
      value === null ? reply.nullBulk : reply.bulk(redisEncodingOf(value)),
    );
  }
  // A missing key is answered nil first, as Redis looks the key up before anything else.
  return planOf(kvOperation.lengths([key]), ({ lengths }) => {
    if (lengths[0] === null || lengths[0] === undefined) return reply.nullBulk;
    return subcommand === 'refcount'
      ? reply.integer(1)
      : reply.error(notTracked[subcommand as 'freq' | 'idletime']);
  });
}

export const keyFactsCommands: readonly CommandSpec[] = [
  kvCommand({ name: 'memory', arity: -2, flags: ['readonly'], keys: [2, 2, 1], plan: memory }),
  kvCommand({ name: 'object', arity: -2, flags: ['readonly'], keys: [2, 2, 1], plan: object }),
];
