import { BadRequest, Conflict, ServiceUnavailable } from '../../shared/errors/index.js';
import { vniRepo } from './networks.repo.js';
import type { Db } from '../db/open.js';

/**
 * The VXLAN type driver's job: VNIs from [vni_min, vni_max], unique per network. Call
 * inside the transaction that inserts the network (the partial unique index on
 * net_networks(segmentation_id) is the last guard). The overlay costs 50 bytes on an
 * IPv4 underlay (outer Ethernet 14 + IPv4 20 + UDP 8 + VXLAN 8).
 */
export const VXLAN_OVERHEAD = 50;

export interface VniRange {
  min: number;
  max: number;
}

export class NoNetworkAvailable extends ServiceUnavailable {
  constructor() {
    super('Unable to create the network. No tenant network is available for allocation.', 'NoNetworkAvailable');
  }
}

/** The lowest VNI of the range that no network uses; NoNetworkAvailable (503) when none is left. */
export function allocateVni(db: Db, r: VniRange): number {
  const used = vniRepo.usedBetween(db, r.min, r.max);
  let want = r.min;
  for (const v of used) {
    if (v > want) break;
    if (v === want) want++;
  }
  if (want > r.max) throw new NoNetworkAvailable();
  return want;
}

/** An admin asked for a VNI: it must be in 1..2^24-1 and free. */
export function claimVni(db: Db, vni: number): number {
  if (!Number.isInteger(vni) || vni < 1 || vni > 0xffffff) {
    throw new BadRequest(`Invalid input for operation: segmentation_id ${vni} is out of range 1-16777215.`, 'InvalidInput');
  }
  const taken = vniRepo.taken(db, vni);
  if (taken) throw new Conflict(`Unable to create the network. The tunnel ID ${vni} is in use.`, 'TunnelIdInUse');
  return vni;
}

export const vxlanMtu = (underlayMtu: number): number => underlayMtu - VXLAN_OVERHEAD;
