import type { Db } from '../db/open.js';

export interface ServerGroup {
  id: string;
  name: string;
  project_id: string;
  user_id: string;
  policy: string;
  rules: string;
  created_at: string;
}

/** SQL for server groups and their members. */
export class ServerGroupsRepo {
  constructor(private readonly db: Db) {}

  get(id: string): ServerGroup | undefined {
    return this.db.prepare('SELECT * FROM server_groups WHERE id = ?').get(id) as ServerGroup | undefined;
  }

  /** All groups, or a project's, oldest first. */
  list(projectId: string | null): ServerGroup[] {
    return (
      projectId === null
        ? this.db.prepare('SELECT * FROM server_groups ORDER BY created_at').all()
        : this.db.prepare('SELECT * FROM server_groups WHERE project_id = ? ORDER BY created_at').all(projectId)
    ) as ServerGroup[];
  }

  count(projectId: string): number {
    return (this.db.prepare('SELECT COUNT(*) AS n FROM server_groups WHERE project_id = ?').get(projectId) as { n: number }).n;
  }

  insert(g: ServerGroup): void {
    this.db
      .prepare(
        'INSERT INTO server_groups (id, name, project_id, user_id, policy, rules, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)',
      )
      .run(g.id, g.name, g.project_id, g.user_id, g.policy, g.rules, g.created_at);
  }

  delete(id: string): void {
    this.db.prepare('DELETE FROM server_groups WHERE id = ?').run(id);
  }

  /** The group's instances that are not deleted, in creation order. */
  liveMembers(id: string): string[] {
    return (
      this.db
        .prepare(
          `SELECT m.instance_id FROM server_group_members m JOIN instances i ON i.id = m.instance_id AND i.deleted = 0 WHERE m.group_id = ? ORDER BY i.seq`,
        )
        .all(id) as Array<{ instance_id: string }>
    ).map((r) => r.instance_id);
  }

  /** Every member id, deleted instances included (the build's affinity view). */
  members(id: string): string[] {
    return (
      this.db.prepare('SELECT instance_id FROM server_group_members WHERE group_id = ?').all(id) as Array<{
        instance_id: string;
      }>
    ).map((r) => r.instance_id);
  }

  memberCount(id: string): number {
    return (this.db.prepare('SELECT COUNT(*) AS n FROM server_group_members WHERE group_id = ?').get(id) as { n: number }).n;
  }

  groupOf(instanceId: string): string | null {
    const g = this.db.prepare('SELECT group_id FROM server_group_members WHERE instance_id = ?').get(instanceId) as
      | { group_id: string }
      | undefined;
    return g?.group_id ?? null;
  }

  addMember(groupId: string, instanceId: string): void {
    this.db.prepare('INSERT INTO server_group_members (group_id, instance_id) VALUES (?, ?)').run(groupId, instanceId);
  }

  removeMember(instanceId: string): void {
    this.db.prepare('DELETE FROM server_group_members WHERE instance_id = ?').run(instanceId);
  }
}
