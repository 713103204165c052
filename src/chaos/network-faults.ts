// The network faults in force, composed from every active fault: with overlapping faults, healing
// one must leave the others in place, so each fault adds its own cuts and removes only those, and
// the proxies are set to the union every time.
//
// Two kinds of cut, both named as "messages from `from` to `to` stop":
//   blocked  — connections from `from` to `to`'s proxy are cut and refused after their Hello. It
//              cuts every message that travels on connections `from` dials: for replicas that is
//              one direction (each replica sends on its own outbound links); for a replica and the
//              coordinator it is both (the coordinator answers on the replica's connection).
//   one-way  — frames from `from` to `to` are dropped after the handshake, on whichever side's
//              connection they travel, while the connection stays open: a link that works one way.
// Loss and delay apply to every proxy at once, so at most one fault sets them.
// Invariant: the proxies' faults are always the union of the active faults' cuts, nothing else.

import { assert } from '../protocol/assert.js';
import type { ChaosCluster } from './cluster-processes.js';

/** A source and a target by name: 'coordinator', 'client' or a replica id. */
export type DirectedPair = readonly [from: string, to: string];

export interface NetworkFault {
  readonly blocked?: readonly DirectedPair[];
  readonly oneWay?: readonly DirectedPair[];
  readonly loss?: { readonly probability: number; readonly delayMaxMs: number };
}

export type NetworkFaultHandle = number & { readonly brand: 'NetworkFaultHandle' };

export class NetworkFaults {
  private readonly active = new Map<NetworkFaultHandle, NetworkFault>();
  private nextHandle = 1;

  constructor(private readonly cluster: ChaosCluster) {}

  /** Whether a fault that sets loss and delay is in force. */
  get lossActive(): boolean {
    return [...this.active.values()].some((fault) => fault.loss !== undefined);
  }

  add(fault: NetworkFault): NetworkFaultHandle {
    assert(fault.loss === undefined || !this.lossActive, 'two faults set loss at once');
    const handle = this.nextHandle++ as NetworkFaultHandle;
    this.active.set(handle, fault);
    this.apply();
    return handle;
  }

  remove(handle: NetworkFaultHandle): void {
    this.active.delete(handle);
    this.apply();
  }

  /** Removes every fault and clears every proxy. */
  clear(): void {
    this.active.clear();
    this.cluster.healNetwork();
  }

  private apply(): void {
    const faults = [...this.active.values()];
    const blocked = faults.flatMap((fault) => fault.blocked ?? []);
    const oneWay = faults.flatMap((fault) => fault.oneWay ?? []);
    const loss = faults.find((fault) => fault.loss !== undefined)?.loss;
    for (const [name, proxy] of this.cluster.proxies) {
      proxy.block(blocked.filter(([, to]) => to === name).map(([from]) => from));
      proxy.setOneWayCuts({
        // from → name on connections `from` dialled to this proxy...
        toTarget: oneWay.filter(([, to]) => to === name).map(([from]) => from),
        // ...and on connections `to` dialled to this proxy, where name answers.
        toSource: oneWay.filter(([from]) => from === name).map(([, to]) => to),
      });
      proxy.setLoss(loss?.probability ?? 0);
      proxy.setDelay(0, loss?.delayMaxMs ?? 0);
    }
  }
}
