import type { Db } from '../db/open.js';

/** The flavor as the instance was built with it (flavors may be deleted later). */
export interface FlavorSnapshot {
  id: string;
  name: string;
  ram: number;
  vcpus: number;
  disk: number;
  ephemeral: number;
  swap: number;
  extra_specs: Record<string, string>;
}

export type RequestedNetworks = 'auto' | 'none' | Array<{ uuid?: string; port?: string; fixed_ip?: string }>;

export interface BlockDevice {
  uuid?: string | null;
  source_type?: string;
  destination_type?: string;
  boot_index?: number | null;
  volume_size?: number | null;
  delete_on_termination?: boolean;
}

/** One row of `instances`, decoded. */
export interface Instance {
  seq: number;
  id: string;
  name: string;
  hostname: string;
  description: string | null;
  project_id: string;
  user_id: string;
  reservation_id: string;
  launch_index: number;
  image_ref: string;
  flavor_id: string;
  flavor: FlavorSnapshot;
  vm_state: string;
  task_state: string | null;
  power_state: number;
  host: string | null;
  host_id: string | null;
  availability_zone: string | null;
  requested_az: string | null;
  key_name: string | null;
  key_data: string | null;
  user_data: string | null;
  config_drive: string;
  metadata: Record<string, string>;
  security_groups: Array<{ name: string }>;
  requested_networks: RequestedNetworks;
  scheduler_hints: Record<string, unknown>;
  block_devices: BlockDevice[];
  access_ipv4: string;
  access_ipv6: string;
  locked: boolean;
  locked_by: string | null;
  admin_pass: string | null;
  progress: number;
  created_at: string;
  updated_at: string;
  launched_at: string | null;
  terminated_at: string | null;
  deleted: boolean;
  deleted_at: string | null;
}

type Row = Omit<
  Instance,
  'flavor' | 'metadata' | 'security_groups' | 'requested_networks' | 'scheduler_hints' | 'block_devices' | 'locked' | 'deleted'
> & {
  flavor: string;
  metadata: string;
  security_groups: string;
  requested_networks: string;
  scheduler_hints: string;
  block_devices: string;
  locked: number;
  deleted: number;
};

const JSON_COLS = ['flavor', 'metadata', 'security_groups', 'requested_networks', 'scheduler_hints', 'block_devices'] as const;

const decode = (r: Row): Instance => ({
  ...r,
  flavor: JSON.parse(r.flavor),
  metadata: JSON.parse(r.metadata),
  security_groups: JSON.parse(r.security_groups),
  requested_networks: JSON.parse(r.requested_networks),
  scheduler_hints: JSON.parse(r.scheduler_hints),
  block_devices: JSON.parse(r.block_devices),
  locked: r.locked === 1,
  deleted: r.deleted === 1,
});

export type NewInstance = Omit<
  Instance,
  | 'seq'
  | 'deleted'
  | 'deleted_at'
  | 'launched_at'
  | 'terminated_at'
  | 'updated_at'
  | 'host'
  | 'host_id'
  | 'progress'
  | 'locked'
  | 'locked_by'
>;

export interface ListFilter {
  projectId?: string;
  userId?: string;
  name?: RegExp;
  vmStates?: string[];
  taskStates?: Array<string | null>;
  host?: string;
  changesSince?: string;
  /** Include soft-deleted rows (changes-since, usage). */
  withDeleted?: boolean;
  image?: string;
  flavor?: string;
  reservationId?: string;
  ip?: RegExp;
  /** Rows after this instance (by seq, newest first). */
  markerSeq?: number;
  limit?: number;
}

/** SQL for instances, their faults and block devices (no logic). */
export class ServersRepo {
  constructor(private readonly db: Db) {}

  insert(i: NewInstance): Instance {
    const ts = i.created_at;
    this.db
      .prepare(
        `INSERT INTO instances (id, name, hostname, description, project_id, user_id, reservation_id, launch_index, image_ref, flavor_id, flavor,
         vm_state, task_state, power_state, availability_zone, requested_az, key_name, key_data, user_data, config_drive, metadata,
         security_groups, requested_networks, scheduler_hints, block_devices, access_ipv4, access_ipv6, admin_pass, created_at, updated_at)
       VALUES (@id, @name, @hostname, @description, @project_id, @user_id, @reservation_id, @launch_index, @image_ref, @flavor_id, @flavor,
         @vm_state, @task_state, @power_state, @availability_zone, @requested_az, @key_name, @key_data, @user_data, @config_drive, @metadata,
         @security_groups, @requested_networks, @scheduler_hints, @block_devices, @access_ipv4, @access_ipv6, @admin_pass, @created_at, @updated_at)`,
      )
      .run({
        ...i,
        ...Object.fromEntries(JSON_COLS.map((c) => [c, JSON.stringify(i[c])])),
        updated_at: ts,
      });
    return this.get(i.id, true)!;
  }

  /** The instance, or null; deleted rows only when asked. */
  get(id: string, withDeleted = false): Instance | null {
    const r = this.db.prepare(`SELECT * FROM instances WHERE id = ? ${withDeleted ? '' : 'AND deleted = 0'}`).get(id) as
      | Row
      | undefined;
    return r ? decode(r) : null;
  }

  /** Newest first (Nova's default sort: created_at desc). */
  list(f: ListFilter): Instance[] {
    const where: string[] = [];
    const args: unknown[] = [];
    if (!f.withDeleted) where.push('deleted = 0');
    if (f.projectId) {
      where.push('project_id = ?');
      args.push(f.projectId);
    }
    if (f.userId) {
      where.push('user_id = ?');
      args.push(f.userId);
    }
    if (f.vmStates?.length) {
      where.push(`vm_state IN (${f.vmStates.map(() => '?').join(',')})`);
      args.push(...f.vmStates);
    }
    if (f.host) {
      where.push('host = ?');
      args.push(f.host);
    }
    if (f.changesSince) {
      where.push('updated_at >= ?');
      args.push(f.changesSince);
    }
    if (f.image) {
      where.push('image_ref = ?');
      args.push(f.image);
    }
    if (f.flavor) {
      where.push('flavor_id = ?');
      args.push(f.flavor);
    }
    if (f.reservationId) {
      where.push('reservation_id = ?');
      args.push(f.reservationId);
    }
    if (f.markerSeq !== undefined) {
      where.push('seq < ?');
      args.push(f.markerSeq);
    }
    const sql = `SELECT * FROM instances ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY seq DESC`;
    let rows = (this.db.prepare(sql).all(...args) as Row[]).map(decode);
    if (f.name) rows = rows.filter((r) => f.name!.test(r.name));
    if (f.taskStates) rows = rows.filter((r) => f.taskStates!.includes(r.task_state));
    if (f.limit !== undefined) rows = rows.slice(0, f.limit);
    return rows;
  }

  /** Updates columns; JSON columns are encoded. Always bumps updated_at. */
  update(id: string, fields: Partial<Omit<Instance, 'seq' | 'id'>>, now: string): void {
    const sets: string[] = ['updated_at = @updated_at'];
    const args: Record<string, unknown> = { id, updated_at: now };
    for (const [k, v] of Object.entries(fields)) {
      if (k === 'updated_at') continue;
      sets.push(`${k} = @${k}`);
      args[k] = (JSON_COLS as readonly string[]).includes(k) ? JSON.stringify(v) : typeof v === 'boolean' ? (v ? 1 : 0) : v;
    }
    this.db.prepare(`UPDATE instances SET ${sets.join(', ')} WHERE id = @id`).run(args);
  }

  /**
   * Sets fields only when the instance is still in one of `vmStates` with task_state
   * `task` (compare-and-set, Nova's expected_task_state). Returns whether it changed.
   */
  updateIf(
    id: string,
    expect: { vmStates?: string[]; taskState?: string | null },
    fields: Partial<Instance>,
    now: string,
  ): boolean {
    const cur = this.get(id);
    if (!cur) return false;
    if (expect.vmStates && !expect.vmStates.includes(cur.vm_state)) return false;
    if (expect.taskState !== undefined && cur.task_state !== expect.taskState) return false;
    this.update(id, fields, now);
    return true;
  }

  /** Counts what a project uses (quota): instances, cores, ram. */
  usage(projectId: string): { instances: number; cores: number; ram: number } {
    const rows = this.db.prepare('SELECT flavor FROM instances WHERE project_id = ? AND deleted = 0').all(projectId) as Array<{
      flavor: string;
    }>;
    let cores = 0;
    let ram = 0;
    for (const r of rows) {
      const f = JSON.parse(r.flavor) as FlavorSnapshot;
      cores += f.vcpus;
      ram += f.ram;
    }
    return { instances: rows.length, cores, ram };
  }

  /** Instances on the host whose vm_state is not deleted (what `homestack host remove` refuses to orphan). */
  countOnHost(hostId: string): number {
    return (
      this.db.prepare("SELECT count(*) AS n FROM instances WHERE host_id = ? AND vm_state <> 'deleted'").get(hostId) as {
        n: number;
      }
    ).n;
  }

  byHost(hostId: string): Instance[] {
    return (this.db.prepare('SELECT * FROM instances WHERE host_id = ? AND deleted = 0').all(hostId) as Row[]).map(decode);
  }

  /** Instances alive at some time in [start, end) (usage reports). */
  activeBetween(start: string, end: string, projectId?: string): Instance[] {
    const rows = this.db
      .prepare(
        `SELECT * FROM instances WHERE (terminated_at IS NULL OR terminated_at >= ?) AND created_at < ? ${projectId ? 'AND project_id = ?' : ''} ORDER BY seq`,
      )
      .all(start, end, ...(projectId ? [projectId] : [])) as Row[];
    return rows.map(decode);
  }

  addFault(instanceId: string, code: number, message: string, details: string, now: string): void {
    this.db
      .prepare('INSERT INTO instance_faults (instance_id, code, message, details, created_at) VALUES (?, ?, ?, ?, ?)')
      .run(instanceId, code, message, details, now);
  }

  latestFault(instanceId: string): { code: number; message: string; details: string; created_at: string } | null {
    return (
      (this.db
        .prepare('SELECT code, message, details, created_at FROM instance_faults WHERE instance_id = ? ORDER BY id DESC LIMIT 1')
        .get(instanceId) as { code: number; message: string; details: string; created_at: string } | undefined) ?? null
    );
  }

  attachedVolumes(instanceId: string): Array<{
    volume_id: string;
    device_name: string | null;
    delete_on_termination: boolean;
    boot_index: number | null;
    attachment_id: string | null;
  }> {
    return (
      this.db
        .prepare(
          'SELECT volume_id, device_name, delete_on_termination, boot_index, attachment_id FROM block_device_mappings WHERE instance_id = ? ORDER BY created_at',
        )
        .all(instanceId) as Array<{
        volume_id: string;
        device_name: string | null;
        delete_on_termination: number;
        boot_index: number | null;
        attachment_id: string | null;
      }>
    ).map((r) => ({ ...r, delete_on_termination: r.delete_on_termination === 1 }));
  }

  addVolume(
    instanceId: string,
    v: {
      volume_id: string;
      device_name: string | null;
      boot_index: number | null;
      delete_on_termination: boolean;
      attachment_id: string | null;
    },
    now: string,
  ): void {
    this.db
      .prepare(
        `INSERT OR REPLACE INTO block_device_mappings (instance_id, volume_id, device_name, boot_index, delete_on_termination, attachment_id, created_at)
       VALUES (?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(instanceId, v.volume_id, v.device_name, v.boot_index, v.delete_on_termination ? 1 : 0, v.attachment_id, now);
  }

  /** Every volume mapping of the instance with its guest device (moves re-attach them all). */
  volumeMappings(
    instanceId: string,
  ): Array<{ volume_id: string; device_name: string | null; boot_index: number | null; attachment_id: string | null }> {
    return this.db
      .prepare(
        'SELECT volume_id, device_name, boot_index, attachment_id FROM block_device_mappings WHERE instance_id = ? ORDER BY created_at',
      )
      .all(instanceId) as Array<{
      volume_id: string;
      device_name: string | null;
      boot_index: number | null;
      attachment_id: string | null;
    }>;
  }

  setAttachment(instanceId: string, volumeId: string, attachmentId: string | null): void {
    this.db
      .prepare('UPDATE block_device_mappings SET attachment_id = ? WHERE instance_id = ? AND volume_id = ?')
      .run(attachmentId, instanceId, volumeId);
  }

  removeVolumes(instanceId: string): void {
    this.db.prepare('DELETE FROM block_device_mappings WHERE instance_id = ?').run(instanceId);
  }

  /** The server's volumes (block device mappings), oldest first. */
  volumes(instanceId: string): Array<{
    volume_id: string;
    device_name: string | null;
    boot_index: number | null;
    attachment_id: string | null;
  }> {
    return this.db
      .prepare(
        'SELECT volume_id, device_name, boot_index, attachment_id FROM block_device_mappings WHERE instance_id = ? ORDER BY created_at',
      )
      .all(instanceId) as Array<{
      volume_id: string;
      device_name: string | null;
      boot_index: number | null;
      attachment_id: string | null;
    }>;
  }

  setVolumeDevice(instanceId: string, volumeId: string, device: string): void {
    this.db
      .prepare('UPDATE block_device_mappings SET device_name = ? WHERE instance_id = ? AND volume_id = ?')
      .run(device, instanceId, volumeId);
  }

  setVolumeAttachment(instanceId: string, volumeId: string, attachmentId: string): void {
    this.db
      .prepare('UPDATE block_device_mappings SET attachment_id = ? WHERE instance_id = ? AND volume_id = ?')
      .run(attachmentId, instanceId, volumeId);
  }

  /** Forgets the boot volume's attachment (a failed spawn detached it). */
  clearBootAttachment(instanceId: string): void {
    this.db
      .prepare('UPDATE block_device_mappings SET attachment_id = NULL WHERE instance_id = ? AND boot_index = 0')
      .run(instanceId);
  }

  removeVolume(instanceId: string, volumeId: string): void {
    this.db.prepare('DELETE FROM block_device_mappings WHERE instance_id = ? AND volume_id = ?').run(instanceId, volumeId);
  }

  /** Servers not deleted that are building or have a task in progress (recovery after a restart). */
  unsettled(): Array<{ id: string }> {
    return this.db
      .prepare('SELECT id FROM instances WHERE deleted = 0 AND (vm_state = ? OR task_state IS NOT NULL)')
      .all('building') as Array<{ id: string }>;
  }

  /** Attachments a crash left reserved or attaching, with the server's host. */
  interruptedAttaches(): Array<{
    instance_id: string;
    volume_id: string;
    attachment_id: string;
    host: string | null;
    host_id: string | null;
  }> {
    return this.db
      .prepare(`SELECT b.instance_id, b.volume_id, b.attachment_id, i.host, i.host_id FROM block_device_mappings b
    JOIN instances i ON i.id = b.instance_id JOIN volume_attachments a ON a.id = b.attachment_id
    WHERE i.deleted = 0 AND a.attach_status IN ('reserved', 'attaching')`)
      .all() as Array<{
      instance_id: string;
      volume_id: string;
      attachment_id: string;
      host: string | null;
      host_id: string | null;
    }>;
  }
}
