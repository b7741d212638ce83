import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

/**
 * Host-local VLAN per network (1..4094; 4095 is the dead VLAN), kept in a JSON file so
 * a restarted agent gives every network the VLAN its ports already carry. Local VLANs
 * differ between hosts; the VNI is what is shared.
 */
export class LocalVlans {
  private map = new Map<string, number>();

  constructor(private readonly file: string | null) {
    if (!file) return;
    try {
      const o = JSON.parse(readFileSync(file, 'utf8')) as Record<string, number>;
      for (const [k, v] of Object.entries(o)) if (Number.isInteger(v) && v >= 1 && v <= 4094) this.map.set(k, v);
    } catch {
      /* first start */
    }
  }

  get(networkId: string): number | null {
    return this.map.get(networkId) ?? null;
  }

  /** The network's VLAN, allocating the lowest free one. Throws when all 4094 are used. */
  ensure(networkId: string): number {
    const cur = this.map.get(networkId);
    if (cur !== undefined) return cur;
    const used = new Set(this.map.values());
    for (let v = 1; v <= 4094; v++) {
      if (used.has(v)) continue;
      this.map.set(networkId, v);
      return v;
    }
    throw new Error('no free local VLAN (4094 networks on this host)');
  }

  /** Frees the VLANs of networks not in `keep`. */
  retain(keep: Set<string>): string[] {
    const gone = [...this.map.keys()].filter((k) => !keep.has(k));
    for (const k of gone) this.map.delete(k);
    return gone;
  }

  entries(): Array<{ id: string; localVlan: number }> {
    return [...this.map].map(([id, localVlan]) => ({ id, localVlan })).sort((a, b) => a.localVlan - b.localVlan);
  }

  save(): void {
    if (!this.file) return;
    mkdirSync(dirname(this.file), { recursive: true });
    writeFileSync(`${this.file}.tmp`, JSON.stringify(Object.fromEntries(this.map), null, 1));
    renameSync(`${this.file}.tmp`, this.file);
  }
}
