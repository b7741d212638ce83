import type { Db } from '../db/open.js';
import { table } from './table.repo.js';

/** One row of net_security_groups. */
export interface SecurityGroupRow {
  id: string;
  project_id: string;
  name: string;
  description: string;
  stateful: boolean;
  tags: string[];
  revision_number: number;
  created_at: string;
  updated_at: string;
}

/** One row of net_security_group_rules. */
export interface RuleRow {
  id: string;
  security_group_id: string;
  project_id: string;
  direction: 'ingress' | 'egress';
  ethertype: 'IPv4' | 'IPv6';
  protocol: string | null;
  port_range_min: number | null;
  port_range_max: number | null;
  remote_ip_prefix: string | null;
  remote_group_id: string | null;
  description: string;
  revision_number: number;
  created_at: string;
  updated_at: string;
}

export const groupsRepo = table<SecurityGroupRow>({
  table: 'net_security_groups',
  cols: ['id', 'project_id', 'name', 'description', 'stateful', 'tags', 'revision_number', 'created_at', 'updated_at'],
  bools: ['stateful'],
  jsons: ['tags'],
});

export const rulesRepo = table<RuleRow>({
  table: 'net_security_group_rules',
  cols: [
    'id',
    'security_group_id',
    'project_id',
    'direction',
    'ethertype',
    'protocol',
    'port_range_min',
    'port_range_max',
    'remote_ip_prefix',
    'remote_group_id',
    'description',
    'revision_number',
    'created_at',
    'updated_at',
  ],
});

export const defaultGroupRepo = {
  get(db: Db, projectId: string): string | null {
    return (
      (db.prepare('SELECT security_group_id FROM net_default_security_groups WHERE project_id = ?').pluck().get(projectId) as
        | string
        | undefined) ?? null
    );
  },
  set(db: Db, projectId: string, groupId: string): void {
    db.prepare('INSERT INTO net_default_security_groups (project_id, security_group_id) VALUES (?, ?)').run(projectId, groupId);
  },
  /** The group is no project's default any more (it is being deleted). */
  forget(db: Db, groupId: string): void {
    db.prepare('DELETE FROM net_default_security_groups WHERE security_group_id = ?').run(groupId);
  },
  isDefault(db: Db, groupId: string): boolean {
    return !!db.prepare('SELECT 1 FROM net_default_security_groups WHERE security_group_id = ?').get(groupId);
  },
};
