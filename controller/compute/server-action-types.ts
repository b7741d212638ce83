import type { AuthContext } from '../http/auth.js';
import type { Microversion } from './versions.js';

/** What a server action answers (POST /servers/{id}/action). */
export interface ActionResult {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
  /** Answer with the server document (rebuild). */
  showServer?: boolean;
}

/** What a server action knows of its request. */
export interface ActionEnv {
  auth: AuthContext;
  requestId: string;
  publicUrl: string;
  imageApiVersionAtLeast245: boolean;
  /** The request's microversion (absent: 2.1). */
  version?: Microversion;
}
