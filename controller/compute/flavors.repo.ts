import type { Db } from '../db/open.js';

export interface Flavor {
  id: string;
  name: string;
  ram: number;
  vcpus: number;
  disk: number;
  ephemeral: number;
  swap: number;
  rxtx_factor: number;
  is_public: boolean;
  disabled: boolean;
  description: string | null;
  created_at: string;
}

type Row = Omit<Flavor, 'is_public' | 'disabled'> & { is_public: number; disabled: number };
const decode = (r: Row): Flavor => ({ ...r, is_public: r.is_public === 1, disabled: r.disabled === 1 });

/** SQL for flavors, their extra specs and access lists. */
export class FlavorsRepo {
  constructor(private readonly db: Db) {}

  get(id: string): Flavor | null {
    const r = this.db.prepare('SELECT * FROM flavors WHERE id = ?').get(id) as Row | undefined;
    return r ? decode(r) : null;
  }

  byName(name: string): Flavor | null {
    const r = this.db.prepare('SELECT * FROM flavors WHERE name = ?').get(name) as Row | undefined;
    return r ? decode(r) : null;
  }

  /** isPublic: true = public (plus private ones `projectId` may use), false = private only, null = all. */
  list(f: { isPublic: boolean | null; projectId?: string; minRam?: number; minDisk?: number }): Flavor[] {
    const where: string[] = [];
    const args: unknown[] = [];
    if (f.isPublic === true) {
      if (f.projectId) {
        where.push('(is_public = 1 OR id IN (SELECT flavor_id FROM flavor_projects WHERE project_id = ?))');
        args.push(f.projectId);
      } else where.push('is_public = 1');
    } else if (f.isPublic === false) where.push('is_public = 0');
    if (f.minRam !== undefined) {
      where.push('ram >= ?');
      args.push(f.minRam);
    }
    if (f.minDisk !== undefined) {
      where.push('disk >= ?');
      args.push(f.minDisk);
    }
    return (
      this.db.prepare(`SELECT * FROM flavors ${where.length ? `WHERE ${where.join(' AND ')}` : ''}`).all(...args) as Row[]
    ).map(decode);
  }

  insert(f: Flavor): void {
    this.db
      .prepare(
        `INSERT INTO flavors (id, name, ram, vcpus, disk, ephemeral, swap, rxtx_factor, is_public, disabled, description, created_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
        f.id,
        f.name,
        f.ram,
        f.vcpus,
        f.disk,
        f.ephemeral,
        f.swap,
        f.rxtx_factor,
        f.is_public ? 1 : 0,
        f.disabled ? 1 : 0,
        f.description,
        f.created_at,
      );
  }

  updateDescription(id: string, description: string | null, now: string): void {
    this.db.prepare('UPDATE flavors SET description = ?, updated_at = ? WHERE id = ?').run(description, now, id);
  }

  delete(id: string): boolean {
    return this.db.prepare('DELETE FROM flavors WHERE id = ?').run(id).changes > 0;
  }

  extraSpecs(id: string): Record<string, string> {
    const rows = this.db.prepare('SELECT key, value FROM flavor_extra_specs WHERE flavor_id = ? ORDER BY key').all(id) as Array<{
      key: string;
      value: string;
    }>;
    return Object.fromEntries(rows.map((r) => [r.key, r.value]));
  }

  setExtraSpecs(id: string, specs: Record<string, string>): void {
    const st = this.db.prepare(
      'INSERT INTO flavor_extra_specs (flavor_id, key, value) VALUES (?, ?, ?) ON CONFLICT(flavor_id, key) DO UPDATE SET value = excluded.value',
    );
    this.db.transaction(() => {
      for (const [k, v] of Object.entries(specs)) st.run(id, k, v);
    })();
  }

  deleteExtraSpec(id: string, key: string): boolean {
    return this.db.prepare('DELETE FROM flavor_extra_specs WHERE flavor_id = ? AND key = ?').run(id, key).changes > 0;
  }

  projects(id: string): string[] {
    return (
      this.db.prepare('SELECT project_id FROM flavor_projects WHERE flavor_id = ? ORDER BY project_id').all(id) as Array<{
        project_id: string;
      }>
    ).map((r) => r.project_id);
  }

  addProject(id: string, projectId: string): boolean {
    return (
      this.db.prepare('INSERT OR IGNORE INTO flavor_projects (flavor_id, project_id) VALUES (?, ?)').run(id, projectId).changes >
      0
    );
  }

  removeProject(id: string, projectId: string): boolean {
    return this.db.prepare('DELETE FROM flavor_projects WHERE flavor_id = ? AND project_id = ?').run(id, projectId).changes > 0;
  }
}
