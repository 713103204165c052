// ROLE and WAIT: where the replica the port runs in stands among its peers (INFO, info-command.ts,
// says the rest).
//
// ROLE answers in Redis 7's shape: on the primary ["master", offset, [[ip, port, offset], ...]] with
// a triple for each backup and learner whose Redis port the coordinator reported; elsewhere ["slave",
// primary ip, primary port, state, offset], the state "connected" while the primary is alive as far
// as the coordinator says, "connect" otherwise (and an empty ip and port 0 if its Redis port is not
// known). Addresses are the replicas' Redis ports, where Redis tools that follow ROLE (Lettuce's
// master/replica discovery, say) dial them, and offsets their durable log indexes, as in INFO.
//
// WAIT answers how many replicas besides the primary held the connection's last write when it was
// acknowledged. It never blocks: a write is acknowledged only once every backup of the view has it
// on disk (or, with a commit quorum, K of them), so the number is known when the write is answered.

import { hostAndPort } from '../transport/address.js';
import { integerArgument } from './arguments.js';
import type { CommandSpec } from './command-table.js';
import type { CommandContext } from './context.js';
import { type RespReply, reply } from './replies.js';

const arg = (args: readonly Buffer[], at: number): Buffer => args[at] as Buffer;

async function role(_args: readonly Buffer[], context: CommandContext): Promise<RespReply> {
  const local = context.backend.local();
  const status = await context.backend.clusterStatus(context.connection.token);
  const known = new Map((status?.replicas ?? []).map((replica) => [replica.id as string, replica]));
  const view = local.view;
  if (local.role === 'primary' && view !== null) {
    const followers = [...view.backups, ...view.learners].flatMap((id) => {
      const replica = known.get(id);
      if (replica?.redisAddress == null) return [];
      const [ip, port] = hostAndPort(replica.redisAddress);
      return [reply.array([reply.bulk(ip), reply.bulk(port), reply.bulk(String(replica.durableIndex))])];
    });
    return reply.array([reply.bulk('master'), reply.integer(local.lastIndex), reply.array(followers)]);
  }
  const primary = view === null ? undefined : known.get(view.primary);
  const [ip, port] = primary?.redisAddress == null ? ['', '0'] : hostAndPort(primary.redisAddress);
  return reply.array([
    reply.bulk('slave'),
    reply.bulk(ip),
    reply.integer(Number(port)),
    reply.bulk(primary?.alive === true ? 'connected' : 'connect'),
    reply.integer(local.durableIndex),
  ]);
}

function wait(args: readonly Buffer[], context: CommandContext): RespReply {
  integerArgument(arg(args, 1));
  const timeout = integerArgument(arg(args, 2), 'ERR timeout is not an integer or out of range');
  if (timeout < 0) return reply.error('ERR timeout is negative');
  const held = context.connection.lastWriteBackups;
  // Before its first write a connection has nothing to wait for: every backup holds "it".
  return reply.integer(held ?? context.backend.local().view?.backups.length ?? 0);
}

export const replicationCommands: readonly CommandSpec[] = [
  { name: 'wait', arity: 3, flags: [], keys: [0, 0, 0], handler: wait },
  { name: 'role', arity: 1, flags: ['noscript', 'loading', 'stale', 'fast'], keys: [0, 0, 0], handler: role },
];
