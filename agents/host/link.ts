import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import {
  INTERNAL_HEARTBEAT_PATH,
  INTERNAL_REGISTER_PATH,
  type HeartbeatBody,
  type RegisterBody,
} from '../../shared/agent/host.js';

interface LinkLog {
  info(o: object, m?: string): void;
  warn(o: object, m?: string): void;
}

export interface ControllerLinkOptions {
  controllerUrl: string;
  secret: string;
  log: LinkLog;
  registration: () => Promise<RegisterBody>;
  heartbeat: () => Promise<HeartbeatBody>;
  timeoutMs?: number;
  /** This agent's heartbeat interval, compared with the controller's expectation. */
  heartbeatS?: number;
  /** CA certificates an https:// controller must chain to (controller-trust.ts); default: the system's. */
  ca?: string[];
}

/**
 * The agent's calls to the controller: register once, then heartbeat. `tick()` is what
 * the heartbeat schedule runs: it registers while not registered (controller
 * unreachable at start, or it forgot us: 401/404 on a heartbeat) and heartbeats
 * otherwise. It never throws: a failed tick is logged and the next one tries again.
 */
export class ControllerLink {
  registered = false;
  hostId: string | null = null;
  private failing = false;

  constructor(private readonly o: ControllerLinkOptions) {}

  /** node:http rather than undici: the agent makes two kinds of small calls, and
   *  undici's WASM parser costs ~15 MB of resident memory (agent RSS goal < 60 MB). */
  private post(path: string, body: unknown): Promise<{ status: number; json: unknown }> {
    const url = new URL(path, this.o.controllerUrl);
    const data = Buffer.from(JSON.stringify(body));
    const timeout = this.o.timeoutMs ?? 5_000;
    return new Promise((resolve, reject) => {
      const req = (url.protocol === 'https:' ? httpsRequest : httpRequest)(
        url,
        {
          method: 'POST',
          headers: {
            authorization: `Bearer ${this.o.secret}`,
            'content-type': 'application/json',
            'content-length': data.length,
          },
          timeout,
          ...(url.protocol === 'https:' && this.o.ca ? { ca: this.o.ca } : {}),
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('error', reject);
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            let json: unknown = text;
            try {
              json = JSON.parse(text);
            } catch {
              /* not JSON */
            }
            resolve({ status: res.statusCode ?? 0, json });
          });
        },
      );
      req.on('timeout', () => req.destroy(new Error(`no reply from the controller within ${timeout} ms`)));
      req.on('error', reject);
      req.end(data);
    });
  }

  async register(): Promise<boolean> {
    const body = await this.o.registration();
    const r = await this.post(INTERNAL_REGISTER_PATH, body);
    if (r.status !== 200) {
      this.o.log.warn({ status: r.status, reply: r.json }, 'the controller refused the registration');
      return false;
    }
    this.registered = true;
    this.hostId = (r.json as { host_id?: string }).host_id ?? null;
    this.o.log.info(
      { hostId: this.hostId, roles: body.roles, controller: this.o.controllerUrl },
      'registered with the controller',
    );
    const expected = r.json as { heartbeat_s?: number; down_after_missed?: number };
    if (this.o.heartbeatS && expected.heartbeat_s && this.o.heartbeatS > expected.heartbeat_s) {
      this.o.log.warn(
        {
          heartbeat_s: this.o.heartbeatS,
          controller_heartbeat_s: expected.heartbeat_s,
          down_after_missed: expected.down_after_missed,
        },
        "this agent beats less often than the controller expects (it may be marked down between beats): set heartbeat_s to the controller's agents.heartbeat_s",
      );
    }
    return true;
  }

  async heartbeat(): Promise<boolean> {
    const r = await this.post(INTERNAL_HEARTBEAT_PATH, await this.o.heartbeat());
    if (r.status === 401 || r.status === 404) {
      this.o.log.warn({ status: r.status }, 'the controller does not know this host any more; registering again');
      this.registered = false;
      return this.register();
    }
    if (r.status !== 200) {
      this.o.log.warn({ status: r.status, reply: r.json }, 'heartbeat refused');
      return false;
    }
    return true;
  }

  async tick(): Promise<void> {
    try {
      const ok = this.registered ? await this.heartbeat() : await this.register();
      if (ok && this.failing) this.o.log.info({}, 'the controller is reachable again');
      this.failing = !ok;
    } catch (e) {
      if (!this.failing)
        this.o.log.warn(
          { err: (e as Error).message, controller: this.o.controllerUrl },
          'cannot reach the controller; will keep trying',
        );
      this.failing = true;
    }
  }
}

/** A node-cron expression firing every `s` seconds (never less often than that). */
export function everySeconds(s: number): string {
  if (s >= 60) return `0 */${Math.max(1, Math.floor(s / 60))} * * * *`;
  if (60 % s === 0) return `*/${s} * * * * *`;
  const secs: number[] = [];
  for (let x = 0; x < 60; x += s) secs.push(x);
  return `${secs.join(',')} * * * * *`;
}
