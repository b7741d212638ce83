import type { Api } from './cloud.js';

/** What the boot storm needs: projects (quotas lifted), per project a network, subnet and security group; an image; a flavor. */
export interface Tenant {
  id: string;
  name: string;
  token: string;
  network: string;
  groups: string[];
  /** The default group's id: the convergence check adds rules to it. */
  defaultGroup: string;
}

const must = async <T>(what: string, p: Promise<{ status: number; body: T }>, ok = [200, 201, 202, 204]): Promise<T> => {
  const r = await p;
  if (!ok.includes(r.status)) throw new Error(`${what}: ${r.status} ${JSON.stringify(r.body).slice(0, 300)}`);
  return r.body;
};

export async function prepareCloud(
  api: Api,
  run: string,
  projects: number,
): Promise<{ image: string; flavor: string; tenants: Tenant[] }> {
  const admin = await api.token('admin');
  const o = { token: admin };
  const image = (await must(
    'image',
    api.call('POST', '/image/v2/images', {
      ...o,
      body: { name: `${run}-img`, disk_format: 'raw', container_format: 'bare', visibility: 'public' },
    }),
  )) as { id: string };
  await must('image data', api.call('PUT', `/image/v2/images/${image.id}/file`, { ...o, raw: Buffer.alloc(1 << 20) }));
  const flavor = (await must(
    'flavor',
    api.call('POST', '/compute/v2.1/flavors', {
      ...o,
      body: { flavor: { name: `${run}-f`, ram: 512, vcpus: 1, disk: 1, id: null } },
    }),
  )) as { flavor: { id: string } };
  const users = (await must('users', api.call('GET', '/identity/v3/users?name=admin', o))) as { users: Array<{ id: string }> };
  const roles = (await must('roles', api.call('GET', '/identity/v3/roles?name=admin', o))) as { roles: Array<{ id: string }> };
  const tenants: Tenant[] = [];
  for (let k = 0; k < projects; k++) {
    const name = `${run}-p${k}`;
    const p = (await must(
      'project',
      api.call('POST', '/identity/v3/projects', { ...o, body: { project: { name, domain_id: 'default' } } }),
    )) as { project: { id: string } };
    const id = p.project.id;
    await must('role', api.call('PUT', `/identity/v3/projects/${id}/users/${users.users[0]!.id}/roles/${roles.roles[0]!.id}`, o));
    await must(
      'nova quota',
      api.call('PUT', `/compute/v2.1/os-quota-sets/${id}`, { ...o, body: { quota_set: { instances: -1, cores: -1, ram: -1 } } }),
    );
    await must(
      'neutron quota',
      api.call('PUT', `/network/v2.0/quotas/${id}`, {
        ...o,
        body: { quota: { port: -1, network: -1, subnet: -1, security_group: -1, security_group_rule: -1 } },
      }),
    );
    const token = await api.token(name);
    const t = { token };
    const net = (await must(
      'network',
      api.call('POST', '/network/v2.0/networks', { ...t, body: { network: { name: `${run}-net${k}` } } }),
    )) as { network: { id: string } };
    // 198.18.0.0/15 is the benchmarking range (RFC 2544); nothing is configured on the machine.
    await must(
      'subnet',
      api.call('POST', '/network/v2.0/subnets', {
        ...t,
        body: { subnet: { network_id: net.network.id, ip_version: 4, cidr: `198.18.${k * 16}.0/20`, name: `${run}-sub${k}` } },
      }),
    );
    const sg = (await must(
      'security group',
      api.call('POST', '/network/v2.0/security-groups', { ...t, body: { security_group: { name: `${run}-web${k}` } } }),
    )) as { security_group: { id: string } };
    await must(
      'rule',
      api.call('POST', '/network/v2.0/security-group-rules', {
        ...t,
        body: {
          security_group_rule: {
            security_group_id: sg.security_group.id,
            direction: 'ingress',
            protocol: 'tcp',
            port_range_min: 80,
            port_range_max: 80,
            remote_ip_prefix: '0.0.0.0/0',
          },
        },
      }),
    );
    const groups = (await must('groups', api.call('GET', '/network/v2.0/security-groups?name=default', t))) as {
      security_groups: Array<{ id: string; project_id: string }>;
    };
    const def = groups.security_groups.find((g) => g.project_id === id)!.id;
    tenants.push({ id, name, token, network: net.network.id, groups: [def, sg.security_group.id], defaultGroup: def });
  }
  return { image: image.id, flavor: flavor.flavor.id, tenants };
}
