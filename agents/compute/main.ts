import { join } from 'node:path';
import type { AgentConfig } from '../../shared/config/agent.js';
import type { Runner } from '../../shared/exec/run.js';
import type { AgentApp } from '../host/app.js';
import type { RoleContext, RoleHandle, RoleModule } from '../host/role.js';
import type { HypervisorDriver } from './driver.js';
import { FakeHypervisor } from './fake.js';
import { LibvirtDriver } from './libvirt.js';
import { registerComputeRoutes, registerMigrationRoutes } from './routes.js';
import { registerVncWebsocket } from './vnc-websocket.js';

export interface ComputeDriverContext {
  config: AgentConfig['compute'];
  run: Runner;
  dataDir: string;
  log: RoleContext['log'];
}

/** Hypervisor drivers by `compute.driver` (a literal map keyed by the config string). */
export const DRIVERS: Record<AgentConfig['compute']['driver'], (c: ComputeDriverContext) => HypervisorDriver> = {
  libvirt: (c) =>
    new LibvirtDriver({
      uri: c.config.libvirt_uri,
      virtType: c.config.virt_type,
      instancesDir: c.config.instances_dir || join(c.dataDir, 'instances'),
      imagesDir: c.config.images_dir || join(c.dataDir, 'images'),
      consoleHost: c.config.console_host,
      reservedMemoryMb: c.config.reserved_memory_mb,
      isoTool: c.config.iso_tool,
      run: c.run,
      log: c.log,
    }),
  fake: (c) => new FakeHypervisor({}, c.config.fake_delay_ms),
};

/**
 * Registers the compute role on an agent app: builds the driver from config,
 * `init()`s it (fail fast: libvirt reachable, virt_type resolved, qemu-img present),
 * and registers every descriptor of shared/agent/compute.ts. Returns what the host
 * reports at registration and in heartbeats. Also usable directly by tests:
 * `registerComputeRole(agent, ctx, driver)` with a driver of their own.
 */
export async function registerComputeRole(agent: AgentApp, ctx: RoleContext, driver?: HypervisorDriver): Promise<RoleHandle> {
  const cfg = ctx.config.compute;
  const d = driver ?? DRIVERS[cfg.driver]({ config: cfg, run: ctx.run, dataDir: ctx.dataDir, log: ctx.log });
  const caps = await d.init();
  ctx.log.info(
    { driver: cfg.driver, virt_type: caps.virt_type, hypervisor: `${caps.hypervisor_type} ${caps.hypervisor_version}` },
    'compute driver ready',
  );
  registerComputeRoutes(agent, d, { shutdownTimeoutSec: cfg.shutdown_timeout_s });
  registerMigrationRoutes(agent, d);
  registerVncWebsocket(agent, d);
  return {
    hypervisorType: caps.hypervisor_type,
    capabilities: {
      driver: cfg.driver,
      virt_type: caps.virt_type,
      hypervisor_version: caps.hypervisor_version,
      cpu_arch: caps.cpu_arch,
      console_host: caps.console_host,
    },
    totals: async () => {
      const h = await d.hostResources();
      return { vcpus: h.vcpus, memory_mb: h.memory_mb, disk_gb: h.disk_gb };
    },
    usage: async () => {
      const h = await d.hostResources();
      return {
        vcpus_used: h.vcpus_used,
        memory_mb_used: h.memory_mb_used,
        running_vms: h.running_vms,
        disk_gb_used: h.disk_gb_used,
      };
    },
    close: () => d.close(),
  };
}

/** The compute role for agents/roles.ts. */
export const computeRole: RoleModule = {
  register: (agent, ctx) => registerComputeRole(agent, ctx),
};
