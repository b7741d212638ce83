import { join } from 'node:path';
import type { AgentConfig } from '../../shared/config/agent.js';
import type { Runner } from '../../shared/exec/run.js';
import type { RoleModule } from '../host/role.js';
import type { NetworkDriver } from './driver.js';
import { FakeNetworkDriver } from './fake.js';
import { OvsDriver } from './ovs.js';
import { registerNetworkRoutes } from './routes.js';
import { NetworkService } from './service.js';

export interface NetworkDriverContext {
  config: AgentConfig['network'];
  run: Runner;
  hostname: string;
  stateDir: string;
  tunnelIp: string;
  log?: { info(o: object, m?: string): void; warn(o: object, m?: string): void };
  /** The controller and this host's credential (the metadata proxies call the controller). */
  controller?: { url: string; secret: string };
}

/** Drivers by `network.driver` (house style: a literal map keyed by the config string). */
export const DRIVERS: Record<AgentConfig['network']['driver'], (c: NetworkDriverContext) => NetworkDriver> = {
  ovs: (c) =>
    new OvsDriver({
      run: c.run,
      hostname: c.hostname,
      stateDir: c.stateDir,
      tunnelIp: c.tunnelIp,
      datapath: c.config.datapath,
      bridges: {
        int: c.config.integration_bridge,
        tun: c.config.tunnel_bridge,
        physical:
          c.config.external_bridge && c.config.physical_network ? { [c.config.physical_network]: c.config.external_bridge } : {},
      },
      dnsDomain: c.config.dns_domain,
      bridgeAddresses:
        c.config.external_bridge && c.config.external_bridge_cidr
          ? { [c.config.external_bridge]: c.config.external_bridge_cidr }
          : {},
      log: c.log,
      ...(c.controller ? { metadata: { controllerUrl: c.controller.url, secret: c.controller.secret } } : {}),
    }),
  fake: (c) => new FakeNetworkDriver(c.tunnelIp),
};

/**
 * The network role (agents/roles.ts maps "network" to this): builds the driver from
 * config, `init()`s it (fail fast: OVS reachable, bridges made), registers
 * `network.sync` and `network.state`, and starts the local resync timers.
 */
export const networkRole: RoleModule = {
  async register(agent, ctx) {
    const net = ctx.config.network;
    const tunnelIp = net.tunnel_ip || ctx.config.listen.host;
    const driver = DRIVERS[net.driver]({
      config: net,
      run: ctx.run,
      hostname: ctx.hostname,
      stateDir: join(ctx.dataDir, 'network'),
      tunnelIp,
      log: ctx.log,
      controller: ctx.controller,
    });
    const info = await driver.init();
    const svc = new NetworkService(driver, ctx.log, {
      resyncMs: net.resync_s * 1000,
      pendingMs: 1000,
      datapath: info.datapath,
      tunnelIp: info.tunnelIp,
    });
    registerNetworkRoutes(agent, svc);
    svc.start();
    return {
      capabilities: {
        datapath: info.datapath,
        driver: net.driver,
        physical_network: net.physical_network,
        tunnel_type: 'vxlan',
        // PortSpec.live_migration is understood (the controller sends it only to agents that say so).
        live_migration_ports: true,
      },
      tunnelIp: info.tunnelIp,
      usage: async () => {
        const st = await driver.state();
        return { networks: st.networks.length, ports: st.ports.length, tunnels: st.tunnels.length, routers: st.routers.length };
      },
      close: () => svc.close(),
    };
  },
};

/** The same entry point for callers that are not the host module (e.g. tests). */
export const registerNetworkRole = networkRole.register;
