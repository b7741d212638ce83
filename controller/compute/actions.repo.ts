import type { Db } from '../db/open.js';

export interface InstanceAction {
  id: number;
  instance_id: string;
  action: string;
  request_id: string;
  project_id: string;
  user_id: string;
  message: string | null;
  start_time: string;
  finish_time: string | null;
  updated_at: string;
}

export interface ActionEvent {
  id: number;
  action_id: number;
  event: string;
  result: string | null;
  traceback: string | null;
  host: string | null;
  start_time: string;
  finish_time: string | null;
  details: string | null;
}

/**
 * os-instance-actions: one action per API request on a server, with one event per
 * step (schedule, network, spawn...), so a failed boot explains itself.
 */
export class ActionsRepo {
  constructor(
    private readonly db: Db,
    private readonly now: () => string = () => new Date().toISOString(),
  ) {}

  start(a: { instanceId: string; action: string; requestId: string; projectId: string; userId: string }): number {
    const ts = this.now();
    return Number(
      this.db
        .prepare(
          'INSERT INTO instance_actions (instance_id, action, request_id, project_id, user_id, start_time, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)',
        )
        .run(a.instanceId, a.action, a.requestId, a.projectId, a.userId, ts, ts).lastInsertRowid,
    );
  }

  /** Ends the action; an error message marks it failed (Nova sets message "Error"). */
  finish(actionId: number, error?: string): void {
    const ts = this.now();
    this.db
      .prepare('UPDATE instance_actions SET finish_time = ?, updated_at = ?, message = ? WHERE id = ?')
      .run(ts, ts, error ? 'Error' : null, actionId);
  }

  eventStart(actionId: number, event: string, host?: string | null): number {
    const ts = this.now();
    this.db.prepare('UPDATE instance_actions SET updated_at = ? WHERE id = ?').run(ts, actionId);
    return Number(
      this.db
        .prepare('INSERT INTO instance_action_events (action_id, event, host, start_time) VALUES (?, ?, ?, ?)')
        .run(actionId, event, host ?? null, ts).lastInsertRowid,
    );
  }

  eventFinish(eventId: number, ok: boolean, details?: string, host?: string | null): void {
    this.db
      .prepare(
        'UPDATE instance_action_events SET result = ?, finish_time = ?, traceback = ?, details = ?, host = COALESCE(?, host) WHERE id = ?',
      )
      .run(ok ? 'Success' : 'Error', this.now(), ok ? null : (details ?? null), details ?? null, host ?? null, eventId);
  }

  /** A finished event in one go. */
  event(actionId: number, event: string, ok: boolean, details?: string, host?: string | null): void {
    this.eventFinish(this.eventStart(actionId, event, host), ok, details, host);
  }

  list(instanceId: string): InstanceAction[] {
    return this.db
      .prepare('SELECT * FROM instance_actions WHERE instance_id = ? ORDER BY id DESC')
      .all(instanceId) as InstanceAction[];
  }

  byRequest(instanceId: string, requestId: string): InstanceAction | null {
    return (
      (this.db
        .prepare('SELECT * FROM instance_actions WHERE instance_id = ? AND request_id = ? ORDER BY id DESC LIMIT 1')
        .get(instanceId, requestId) as InstanceAction | undefined) ?? null
    );
  }

  events(actionId: number): ActionEvent[] {
    return this.db.prepare('SELECT * FROM instance_action_events WHERE action_id = ? ORDER BY id').all(actionId) as ActionEvent[];
  }
}
