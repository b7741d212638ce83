import type { Db } from '../db/open.js';

export interface Keypair {
  user_id: string;
  name: string;
  public_key: string;
  fingerprint: string;
  type: string;
  created_at: string;
}

/** SQL for keypairs (per user). */
export class KeypairsRepo {
  constructor(private readonly db: Db) {}
  list(userId: string): Keypair[] {
    return this.db.prepare('SELECT * FROM keypairs WHERE user_id = ? ORDER BY name').all(userId) as Keypair[];
  }
  get(userId: string, name: string): Keypair | null {
    return (
      (this.db.prepare('SELECT * FROM keypairs WHERE user_id = ? AND name = ?').get(userId, name) as Keypair | undefined) ?? null
    );
  }
  insert(k: Keypair): void {
    this.db
      .prepare('INSERT INTO keypairs (user_id, name, public_key, fingerprint, type, created_at) VALUES (?, ?, ?, ?, ?, ?)')
      .run(k.user_id, k.name, k.public_key, k.fingerprint, k.type, k.created_at);
  }
  delete(userId: string, name: string): boolean {
    return this.db.prepare('DELETE FROM keypairs WHERE user_id = ? AND name = ?').run(userId, name).changes > 0;
  }
  count(userId: string): number {
    return (this.db.prepare('SELECT COUNT(*) AS n FROM keypairs WHERE user_id = ?').get(userId) as { n: number }).n;
  }
  /** Numeric id Nova shows in keypair show (the rowid). */
  rowid(userId: string, name: string): number {
    return (
      (
        this.db.prepare('SELECT rowid AS id FROM keypairs WHERE user_id = ? AND name = ?').get(userId, name) as
          | { id: number }
          | undefined
      )?.id ?? 0
    );
  }
}
