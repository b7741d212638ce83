import type { Db } from '../db/open.js';

/** instance_passwords: the password a guest posts to the metadata service (Nova keeps it in system_metadata). */

/** The password a guest posted (Nova keeps it in system_metadata); '' when none. */
export function passwordOf(db: Db, instanceId: string): string {
  const r = db.prepare('SELECT password FROM instance_passwords WHERE instance_id = ?').get(instanceId) as
    | { password: string }
    | undefined;
  return r?.password ?? '';
}

/** Sets the password once: false when one is already set. */
export function setPasswordOnce(db: Db, instanceId: string, password: string, now: string): boolean {
  return (
    db
      .prepare(
        'INSERT INTO instance_passwords (instance_id, password, created_at) VALUES (?, ?, ?) ON CONFLICT(instance_id) DO NOTHING',
      )
      .run(instanceId, password, now).changes === 1
  );
}
