import { Hypervisor, type Domain } from '@unraid/libvirt';

/**
 * The connection to libvirtd through @unraid/libvirt (N-API, calls run on libuv's
 * worker pool). Opened lazily, reopened once when a call fails because the daemon
 * restarted. Domains are always addressed by UUID (= the instance uuid).
 *
 * What goes through this binding: open/close, list, lookup, define, start
 * (domainCreate), ACPI shutdown, destroy, undefine (plain), suspend/resume (pause),
 * getInfo, getXMLDesc, nodeGetInfo. What the binding lacks goes through
 * shared/tools/virsh.ts: reboot/reset, managed save, device attach/detach, secrets,
 * undefine with --managed-save, domstate --reason.
 */

/** The binding reports code -1 and libvirt's message; classify by message. */
export const isNoDomain = (e: unknown): boolean =>
  /Domain not found|no domain with matching/i.test(String((e as Error)?.message ?? e));
const isConnectionLost = (e: unknown): boolean =>
  /not connected|connection.*(closed|reset)|Cannot recv data|Cannot write data|client socket is closed|End of file while reading/i.test(
    String((e as Error)?.message ?? e),
  );
export const isInvalidOperation = (e: unknown): boolean =>
  /Requested operation is not valid|domain is not running|domain is already running|not paused/i.test(
    String((e as Error)?.message ?? e),
  );

export class LibvirtConn {
  private hv: Hypervisor | null = null;
  private opening: Promise<Hypervisor> | null = null;

  constructor(readonly uri: string) {}

  private async open(): Promise<Hypervisor> {
    if (this.hv) return this.hv;
    this.opening ??= (async () => {
      const hv = new Hypervisor({ uri: this.uri });
      await hv.connectOpen();
      this.hv = hv;
      return hv;
    })().finally(() => {
      this.opening = null;
    });
    return this.opening;
  }

  /** Runs fn with the connection; reconnects and retries once if the daemon went away. */
  async with<T>(fn: (hv: Hypervisor) => Promise<T>): Promise<T> {
    const hv = await this.open();
    try {
      return await fn(hv);
    } catch (e) {
      if (!isConnectionLost(e)) throw e;
      this.hv = null;
      return fn(await this.open());
    }
  }

  /** The domain with that uuid, or null. */
  lookup(uuid: string): Promise<Domain | null> {
    return this.with(async (hv) => {
      try {
        return await hv.domainLookupByUUIDString(uuid);
      } catch (e) {
        if (isNoDomain(e)) return null;
        throw e;
      }
    });
  }

  async close(): Promise<void> {
    const hv = this.hv;
    this.hv = null;
    if (hv) await hv.connectClose().catch(() => {});
  }
}
