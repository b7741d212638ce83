/**
 * OpenFlow tables of the agent's bridges, modelled on Neutron's
 * (neutron/plugins/ml2/drivers/openvswitch/agent/common/constants.py), and the pure
 * function that renders every flow of a host from its compiled desired state. Every
 * flow carries the agent's cookie; after a sync, whatever the switch holds without it
 * (and is not in the rendered set) is stale and deleted (see `applyFlows` in ovs.ts).
 *
 * br-tun (fail-mode secure), as Neutron's:
 *   0  LOCAL_SWITCHING   from patch-int → 2, from a tunnel → 4, else drop
 *   2  PATCH_LV_TO_TUN   unicast → 20, broadcast/multicast → 22
 *   4  VXLAN_TUN_TO_LV   tun_id=VNI → mod_vlan_vid:localVLAN → 10, unknown VNI dropped
 *   10 LEARN_FROM_TUN    learn (dl_vlan, dl_src) → tunnel port into 20, output patch-int
 *   20 UCAST_TO_TUN      learned flows (LEARN cookie, hard_timeout 300 s); miss → 22
 *   22 FLOOD_TO_TUN      dl_vlan=localVLAN → strip, set_tunnel:VNI, output to the peers of that network only
 *
 * br-int (fail-mode secure; native OVS firewall on userspace conntrack, after Neutron's
 * openvswitch firewall driver; VLAN tags are stripped on entry from trunks so the
 * pipeline sees untagged frames, with the network in reg6):
 *   0  LOCAL_SWITCHING   port-security port → reg6=VLAN → 71; other local ports → reg6 → 60;
 *                        from patch-tun / provider patch: reg6=VLAN, reg4=1 (trunk), strip → 60; else drop
 *   60 TRANSIENT         dl_dst = a port-security port of that network → reg7=ofport → 81;
 *                        from a trunk → re-tag → NORMAL; else NORMAL
 *   71 BASE_EGRESS       DHCP client, anti-spoofing (ARP and IP from the port's MAC/IPs) → ct(zone=ofport) → 72
 *   72 RULES_EGRESS      established/related → 60; new + an egress rule → commit → 60; else drop
 *   81 BASE_INGRESS      ARP and DHCP replies → output; IP → ct(zone=ofport) → 82
 *   82 RULES_INGRESS     established/related → output; new + an ingress rule → commit → output; else drop
 *
 * A port being live-migrated is wired on both hosts (the source's and the destination's
 * port); only one of them runs the guest at a time, and the switch-over must not wait
 * for the controller. So on both hosts its frames go where the guest was last seen
 * sending from, learned by the switch itself (as br-tun learns a MAC's tunnel):
 *   0  a frame from the local port learns "here" (reg7=ofport), a frame from patch-tun
 *      with the port's MAC as source learns "elsewhere" (reg7=0), both into table 58
 *   60 dl_dst = the port → reg7 = the default (source: here, destination: elsewhere),
 *      then 58 (the learned answer, idle_timeout 60 s) → 59
 *   58 MOVING_WHERE      learned flows only (LEARN cookie)
 *   59 MOVING_DELIVER    reg7 = the local port → 81 (its security groups); else as 60 would (NORMAL)
 * The first frame of the guest on the destination is QEMU's announce after it resumes
 * (RARP, or the guest's gratuitous ARP), let out by table 71 and flooded to the network's
 * peers: it re-points the destination's br-int, the peers' br-tun and the source's br-int
 * within the guest's own downtime.
 *
 * Provider bridge (br-ex for physical_network "public"): from phy-br-ex with the flat
 * network's VLAN → strip → NORMAL; other VLANs from phy-br-ex dropped; everything else NORMAL.
 */

export const TUN = {
  LOCAL_SWITCHING: 0,
  PATCH_LV_TO_TUN: 2,
  VXLAN_TUN_TO_LV: 4,
  LEARN_FROM_TUN: 10,
  UCAST_TO_TUN: 20,
  FLOOD_TO_TUN: 22,
} as const;

export const INT = {
  LOCAL_SWITCHING: 0,
  MOVING_WHERE: 58,
  MOVING_DELIVER: 59,
  TRANSIENT: 60,
  BASE_EGRESS: 71,
  RULES_EGRESS: 72,
  BASE_INGRESS: 81,
  RULES_INGRESS: 82,
} as const;

export const PHYS = { LOCAL_SWITCHING: 0 } as const;

/** VLAN for ports that must not pass traffic (unknown or admin-down), as Neutron's DEAD_VLAN_TAG. */
export const DEAD_VLAN = 4095;
/** How long a learned unicast flow lives in br-tun. */
export const LEARN_TIMEOUT_S = 300;

/** The cookie of learned flows: the agent's cookie with the low bit set. */
export const learnCookie = (cookie: bigint): bigint => cookie | 1n;

/** The agent cookie: a fixed prefix and a hash of the host name, low bit clear. */
export function agentCookie(hostname: string): bigint {
  let h = 2166136261;
  for (const c of Buffer.from(hostname, 'utf8')) h = Math.imul(h ^ c, 16777619) >>> 0;
  return (0x4853n << 48n) | (BigInt(h) << 1n);
}

export interface FlowNetwork {
  vlan: number;
  /** vxlan only. */
  vni: number | null;
  /** br-tun ofports of the tunnels this network floods to. */
  flood: number[];
  /** flat only: the provider bridge and the patch ports' ofports. */
  phys?: { bridge: string; intOfport: number; phyOfport: number };
}

export interface FlowPort {
  ofport: number;
  vlan: number;
  mac: string;
  /** port_security_enabled: anti-spoofing and security groups apply. */
  protected: boolean;
  /** (MAC, IPv4 address or CIDR) pairs the port may send from: fixed IPs and allowed address pairs. */
  allowed: Array<{ mac: string; ip: string }>;
  /** Compiled security-group matches (see security-groups.ts). */
  egress: string[];
  ingress: string[];
  /** Being live-migrated (PortSpec live_migration): where the guest is assumed to run until a frame says otherwise. */
  migration?: 'source' | 'destination';
}

/** How long a learned "where is the guest" flow of a migrating port lives without traffic. */
export const MOVING_IDLE_S = 60;

export interface FlowModel {
  cookie: bigint;
  /** ofport of patch-tun on br-int and patch-int on br-tun (null before they exist). */
  patchTun: number | null;
  patchInt: number | null;
  tunnelPorts: number[];
  networks: FlowNetwork[];
  ports: FlowPort[];
  /** Provider bridges (each gets its default NORMAL flow even without a flat network). */
  physBridges: string[];
}

export type BridgeFlows = Map<string, string[]>;

const hex = (c: bigint) => `0x${c.toString(16)}`;
/**
 * Actions are written in the form OVS prints them back over OpenFlow 1.3 (pop_vlan,
 * push_vlan + set_field, set_field tun_id), so diff-flows sees an unchanged flow as equal
 * and a second sync adds nothing.
 */
const pushVlan = (vlan: number) => `push_vlan:0x8100,set_field:${4096 + vlan}->vlan_vid`;
const setTunnel = (vni: number) => `set_field:${hex(BigInt(vni))}->tun_id`;

/** Renders every flow of every bridge, sorted (stable text, golden-testable). */
export function renderFlows(m: FlowModel, bridges: { int: string; tun: string }): BridgeFlows {
  const ck = `cookie=${hex(m.cookie)}`;
  const f = (table: number, rest: string) => `${ck},table=${table},${rest}`;
  const tun: string[] = [];
  const int: string[] = [];
  const phys = new Map<string, string[]>();

  // ---- br-tun
  tun.push(f(TUN.LOCAL_SWITCHING, 'priority=0,actions=drop'));
  if (m.patchInt !== null)
    tun.push(f(TUN.LOCAL_SWITCHING, `priority=1,in_port=${m.patchInt},actions=resubmit(,${TUN.PATCH_LV_TO_TUN})`));
  for (const t of m.tunnelPorts)
    tun.push(f(TUN.LOCAL_SWITCHING, `priority=1,in_port=${t},actions=resubmit(,${TUN.VXLAN_TUN_TO_LV})`));
  tun.push(
    f(TUN.PATCH_LV_TO_TUN, `priority=0,dl_dst=00:00:00:00:00:00/01:00:00:00:00:00,actions=resubmit(,${TUN.UCAST_TO_TUN})`),
  );
  tun.push(
    f(TUN.PATCH_LV_TO_TUN, `priority=0,dl_dst=01:00:00:00:00:00/01:00:00:00:00:00,actions=resubmit(,${TUN.FLOOD_TO_TUN})`),
  );
  tun.push(f(TUN.VXLAN_TUN_TO_LV, 'priority=0,actions=drop'));
  if (m.patchInt !== null) {
    tun.push(
      f(
        TUN.LEARN_FROM_TUN,
        `priority=1,actions=learn(table=${TUN.UCAST_TO_TUN},cookie=${hex(learnCookie(m.cookie))},priority=1,hard_timeout=${LEARN_TIMEOUT_S},` +
          'NXM_OF_VLAN_TCI[0..11],NXM_OF_ETH_DST[]=NXM_OF_ETH_SRC[],load:0->NXM_OF_VLAN_TCI[],load:NXM_NX_TUN_ID[]->NXM_NX_TUN_ID[],output:OXM_OF_IN_PORT[]),' +
          `output:${m.patchInt}`,
      ),
    );
  }
  tun.push(f(TUN.UCAST_TO_TUN, `priority=0,actions=resubmit(,${TUN.FLOOD_TO_TUN})`));
  tun.push(f(TUN.FLOOD_TO_TUN, 'priority=0,actions=drop'));
  for (const n of m.networks) {
    if (n.vni === null) continue;
    tun.push(
      f(
        TUN.VXLAN_TUN_TO_LV,
        `priority=1,tun_id=${hex(BigInt(n.vni))},actions=${pushVlan(n.vlan)},resubmit(,${TUN.LEARN_FROM_TUN})`,
      ),
    );
    if (n.flood.length) {
      tun.push(
        f(
          TUN.FLOOD_TO_TUN,
          `priority=1,dl_vlan=${n.vlan},actions=pop_vlan,${setTunnel(n.vni)},${[...n.flood]
            .sort((a, b) => a - b)
            .map((p) => `output:${p}`)
            .join(',')}`,
        ),
      );
    }
  }

  // ---- br-int: entry
  int.push(f(INT.LOCAL_SWITCHING, 'priority=0,actions=drop'));
  for (const n of m.networks) {
    if (n.vni !== null && m.patchTun !== null) {
      int.push(
        f(
          INT.LOCAL_SWITCHING,
          `priority=80,in_port=${m.patchTun},dl_vlan=${n.vlan},actions=load:${n.vlan}->NXM_NX_REG6[],load:1->NXM_NX_REG4[],pop_vlan,resubmit(,${INT.TRANSIENT})`,
        ),
      );
    }
    if (n.phys) {
      int.push(
        f(
          INT.LOCAL_SWITCHING,
          `priority=80,in_port=${n.phys.intOfport},vlan_tci=0x0000/0x1fff,actions=load:${n.vlan}->NXM_NX_REG6[],load:1->NXM_NX_REG4[],resubmit(,${INT.TRANSIENT})`,
        ),
      );
      const px = phys.get(n.phys.bridge) ?? [];
      px.push(f(PHYS.LOCAL_SWITCHING, `priority=4,in_port=${n.phys.phyOfport},dl_vlan=${n.vlan},actions=pop_vlan,NORMAL`));
      px.push(f(PHYS.LOCAL_SWITCHING, `priority=2,in_port=${n.phys.phyOfport},actions=drop`));
      phys.set(n.phys.bridge, px);
    }
    int.push(f(INT.TRANSIENT, `priority=90,reg4=1,reg6=${n.vlan},actions=${pushVlan(n.vlan)},NORMAL`));
    int.push(f(INT.MOVING_DELIVER, `priority=90,reg4=1,reg6=${n.vlan},actions=${pushVlan(n.vlan)},NORMAL`));
  }
  int.push(f(INT.TRANSIENT, 'priority=0,actions=NORMAL'));
  int.push(f(INT.MOVING_WHERE, 'priority=0,actions=drop'));
  int.push(f(INT.MOVING_DELIVER, 'priority=0,actions=NORMAL'));
  for (const t of [INT.BASE_EGRESS, INT.RULES_EGRESS, INT.BASE_INGRESS, INT.RULES_INGRESS])
    int.push(f(t, 'priority=0,actions=drop'));
  int.push(f(INT.RULES_EGRESS, `priority=100,ct_state=-new+est-rel-inv+trk,actions=resubmit(,${INT.TRANSIENT})`));
  int.push(f(INT.RULES_EGRESS, `priority=100,ct_state=-new+rel-inv+trk,actions=resubmit(,${INT.TRANSIENT})`));
  int.push(f(INT.RULES_EGRESS, 'priority=90,ct_state=+inv+trk,actions=drop'));
  int.push(f(INT.RULES_INGRESS, 'priority=90,ct_state=+inv+trk,actions=drop'));

  // ---- br-int: ports
  for (const p of m.ports) {
    const P = p.ofport;
    if (!p.protected) {
      int.push(
        f(INT.LOCAL_SWITCHING, `priority=90,in_port=${P},actions=load:${p.vlan}->NXM_NX_REG6[],resubmit(,${INT.TRANSIENT})`),
      );
      continue;
    }
    if (!p.migration) {
      int.push(
        f(INT.LOCAL_SWITCHING, `priority=100,in_port=${P},actions=load:${p.vlan}->NXM_NX_REG6[],resubmit(,${INT.BASE_EGRESS})`),
      );
      int.push(
        f(
          INT.TRANSIENT,
          `priority=100,reg6=${p.vlan},dl_dst=${p.mac},actions=load:${P}->NXM_NX_REG7[],resubmit(,${INT.BASE_INGRESS})`,
        ),
      );
    } else {
      // where the guest runs, learned from its frames (see the header)
      const where = (reg7: number) =>
        `learn(table=${INT.MOVING_WHERE},idle_timeout=${MOVING_IDLE_S},priority=1,cookie=${hex(learnCookie(m.cookie))},` +
        `NXM_NX_REG6[],NXM_OF_ETH_DST[]=NXM_OF_ETH_SRC[],load:${hex(BigInt(reg7))}->NXM_NX_REG7[])`;
      int.push(
        f(
          INT.LOCAL_SWITCHING,
          `priority=100,in_port=${P},actions=load:${p.vlan}->NXM_NX_REG6[],${where(P)},resubmit(,${INT.BASE_EGRESS})`,
        ),
      );
      if (m.patchTun !== null)
        int.push(
          f(
            INT.LOCAL_SWITCHING,
            `priority=85,in_port=${m.patchTun},dl_vlan=${p.vlan},dl_src=${p.mac},actions=load:${p.vlan}->NXM_NX_REG6[],load:1->NXM_NX_REG4[],${where(0)},pop_vlan,resubmit(,${INT.TRANSIENT})`,
          ),
        );
      int.push(
        f(
          INT.TRANSIENT,
          `priority=100,reg6=${p.vlan},dl_dst=${p.mac},actions=load:${p.migration === 'source' ? P : 0}->NXM_NX_REG7[],resubmit(,${INT.MOVING_WHERE}),resubmit(,${INT.MOVING_DELIVER})`,
        ),
      );
      int.push(f(INT.MOVING_DELIVER, `priority=100,reg7=${P},actions=resubmit(,${INT.BASE_INGRESS})`));
    }
    // egress: DHCP client, no DHCP server, anti-spoofing
    int.push(f(INT.BASE_EGRESS, `priority=95,in_port=${P},udp,tp_src=68,tp_dst=67,actions=resubmit(,${INT.TRANSIENT})`));
    int.push(f(INT.BASE_EGRESS, `priority=94,in_port=${P},udp,tp_src=67,actions=drop`));
    // QEMU's announce after a live migration (RARP from the port's MACs), as Nova's libvirt driver relies on
    for (const mac of new Set(p.allowed.map((a) => a.mac)))
      int.push(f(INT.BASE_EGRESS, `priority=90,in_port=${P},rarp,dl_src=${mac},actions=resubmit(,${INT.TRANSIENT})`));
    for (const a of p.allowed) {
      int.push(
        f(INT.BASE_EGRESS, `priority=90,in_port=${P},arp,dl_src=${a.mac},arp_spa=${a.ip},actions=resubmit(,${INT.TRANSIENT})`),
      );
      int.push(
        f(
          INT.BASE_EGRESS,
          `priority=80,in_port=${P},ip,dl_src=${a.mac},nw_src=${a.ip},actions=ct(table=${INT.RULES_EGRESS},zone=${P})`,
        ),
      );
    }
    for (const r of p.egress) {
      int.push(
        f(
          INT.RULES_EGRESS,
          `priority=50,ct_state=+new-est+trk,in_port=${P},${r},actions=ct(commit,zone=${P}),resubmit(,${INT.TRANSIENT})`,
        ),
      );
    }
    // ingress
    int.push(f(INT.BASE_INGRESS, `priority=100,reg7=${P},arp,actions=output:${P}`));
    int.push(f(INT.BASE_INGRESS, `priority=95,reg7=${P},udp,tp_src=67,tp_dst=68,actions=output:${P}`));
    int.push(f(INT.BASE_INGRESS, `priority=90,reg7=${P},ip,actions=ct(table=${INT.RULES_INGRESS},zone=${P})`));
    int.push(f(INT.RULES_INGRESS, `priority=100,reg7=${P},ct_state=-new+est-rel-inv+trk,actions=output:${P}`));
    int.push(f(INT.RULES_INGRESS, `priority=100,reg7=${P},ct_state=-new+rel-inv+trk,actions=output:${P}`));
    for (const r of p.ingress) {
      int.push(f(INT.RULES_INGRESS, `priority=50,ct_state=+new-est+trk,reg7=${P},${r},actions=ct(commit,zone=${P}),output:${P}`));
    }
  }
  for (const b of m.physBridges) if (!phys.has(b)) phys.set(b, []);
  for (const [, px] of phys) px.push(f(PHYS.LOCAL_SWITCHING, 'priority=0,actions=NORMAL'));

  const out: BridgeFlows = new Map();
  out.set(bridges.int, [...new Set(int)].sort());
  out.set(bridges.tun, [...new Set(tun)].sort());
  for (const [b, px] of phys) out.set(b, [...new Set(px)].sort());
  return out;
}

/**
 * A port range as value/mask pairs for OpenFlow `tp_dst=V/M` (the standard split of a
 * range into aligned power-of-two blocks). [0, 65535] → [] (no match needed).
 */
export function portRangeMasks(min: number, max: number): string[] {
  if (min <= 0 && max >= 65535) return [];
  if (min === max) return [String(min)];
  const out: string[] = [];
  let lo = min;
  while (lo <= max) {
    let size = 1;
    while ((lo & (size * 2 - 1)) === 0 && lo + size * 2 - 1 <= max && size < 65536) size *= 2;
    out.push(
      size === 1
        ? String(lo)
        : `0x${lo.toString(16).padStart(4, '0')}/0x${((0xffff & ~(size - 1)) >>> 0).toString(16).padStart(4, '0')}`,
    );
    lo += size;
  }
  return out;
}
