import { statfs } from 'node:fs/promises';
import { join } from 'node:path';
import type { AgentConfig } from '../../shared/config/agent.js';
import type { Runner } from '../../shared/exec/run.js';
import type { Role } from '../../shared/agent/host.js';
import { lvm } from '../../shared/tools/lvm.js';
import { ovsVsctl } from '../../shared/tools/ovs-vsctl.js';
import { virsh } from '../../shared/tools/virsh.js';
import type { AgentMetricSources } from './metrics.js';

/** The metric sources for the roles this host serves, read through the shared tool wrappers. */
export function metricSourcesFor(config: AgentConfig, run: Runner, roles: Role[]): AgentMetricSources {
  const src: AgentMetricSources = {};
  if (roles.includes('compute')) {
    const v = virsh(run, { uri: config.compute.libvirt_uri, timeoutMs: 20_000 });
    src.instances = () => v.domstats();
  }
  if (roles.includes('network')) {
    const vs = ovsVsctl(run);
    src.network = async () => {
      const ifs = await vs.interfaces();
      return {
        tunnels: ifs.filter((i) => i.type === 'vxlan').length,
        ports: ifs.filter((i) => i.type === '' || i.type === 'internal').length,
      };
    };
  }
  if (roles.includes('volume')) {
    const vc = config.volume;
    if (vc.backend === 'lvm') {
      const l = lvm(run);
      src.volumeFreeBytes = async () => (await l.vg(vc.volume_group)).freeBytes;
    } else if (vc.backend === 'file') {
      const dir = vc.file_dir || join(config.data_dir, 'volumes');
      src.volumeFreeBytes = async () => {
        const s = await statfs(dir);
        return s.bavail * s.bsize;
      };
    }
  }
  return src;
}
