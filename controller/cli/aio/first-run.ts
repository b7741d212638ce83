import { createHash } from 'node:crypto';
import { createReadStream, statSync } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { ApiCallError, type CloudApi } from './api-client.js';

/** DevStack's flavors (nova's old defaults, same ids) and the one the test image fits. */
export const DEFAULT_FLAVORS: ReadonlyArray<{ id: string; name: string; vcpus: number; ram: number; disk: number }> = [
  { id: '1', name: 'm1.tiny', vcpus: 1, ram: 512, disk: 1 },
  { id: '2', name: 'm1.small', vcpus: 1, ram: 2048, disk: 20 },
  { id: '3', name: 'm1.medium', vcpus: 2, ram: 4096, disk: 40 },
  { id: '4', name: 'm1.large', vcpus: 4, ram: 8192, disk: 80 },
  { id: '5', name: 'm1.xlarge', vcpus: 8, ram: 16384, disk: 160 },
  // DevStack's 192 MiB flavor: the busybox test guest boots in it.
  { id: '84', name: 'm1.micro', vcpus: 1, ram: 192, disk: 1 },
];

export const TEST_IMAGE_NAME = 'homestack-guest';
export const DEMO = { project: 'demo', user: 'demo', network: 'private', subnet: 'private-subnet', router: 'router1' };
/** The demo tenant network (DevStack uses 10.0.0.0/26): inside the router's namespace, never on the host. */
export const DEMO_CIDR = '10.0.0.0/24';

type Say = (s: string) => void;

const q = encodeURIComponent;

/** Creates the default flavors that are missing (by name); an id taken by another flavor gets a new one. */
export async function ensureFlavors(admin: CloudApi, say: Say): Promise<number> {
  const { flavors } = await admin.call<{ flavors: Array<{ id: string; name: string }> }>(
    'GET',
    '/compute/v2.1/flavors/detail?is_public=None',
  );
  let made = 0;
  for (const f of DEFAULT_FLAVORS) {
    if (flavors.some((x) => x.name === f.name)) continue;
    const idFree = !flavors.some((x) => x.id === f.id);
    await admin.call('POST', '/compute/v2.1/flavors', {
      flavor: { name: f.name, ...(idFree ? { id: f.id } : {}), vcpus: f.vcpus, ram: f.ram, disk: f.disk },
    });
    made++;
  }
  if (made) say(`created ${made} flavor(s): ${DEFAULT_FLAVORS.map((f) => f.name).join(', ')}`);
  return made;
}

async function md5Of(path: string): Promise<string> {
  const h = createHash('md5');
  await pipeline(createReadStream(path), h);
  return h.digest('hex');
}

/**
 * Uploads the test image as a public qcow2 image named homestack-guest unless an
 * active one with the same MD5 is there. An older build under that name is renamed
 * (homestack-guest-<md5 prefix>) and hidden, not deleted: servers may use it.
 */
export async function ensureTestImage(admin: CloudApi, path: string, say: Say): Promise<string> {
  const md5 = await md5Of(path);
  const { images } = await admin.call<{ images: Array<{ id: string; status: string; checksum: string | null }> }>(
    'GET',
    `/image/v2/images?name=${q(TEST_IMAGE_NAME)}&limit=100`,
  );
  const same = images.find((i) => i.status === 'active' && i.checksum === md5);
  if (same) return same.id;
  const created = await admin.call<{ id: string }>('POST', '/image/v2/images', {
    name: TEST_IMAGE_NAME,
    disk_format: 'qcow2',
    container_format: 'bare',
    visibility: 'public',
    min_ram: 128,
    description: 'Homestack test guest (busybox, DHCP, config drive, user data); scripts/build-test-image.sh',
  });
  try {
    await admin.putData(`/image/v2/images/${created.id}/file`, createReadStream(path), statSync(path).size);
  } catch (e) {
    await admin.call('DELETE', `/image/v2/images/${created.id}`).catch(() => {});
    throw e;
  }
  for (const old of images) {
    const patch = [
      { op: 'replace', path: '/name', value: `${TEST_IMAGE_NAME}-${(old.checksum ?? old.id).slice(0, 8)}` },
      { op: 'replace', path: '/os_hidden', value: true },
    ];
    await admin.call('PATCH', `/image/v2/images/${old.id}`, patch, {
      contentType: 'application/openstack-images-v2.1-json-patch',
    });
  }
  say(`uploaded the test image ${TEST_IMAGE_NAME} (${created.id}, public)${images.length ? '; the older build is hidden' : ''}`);
  return created.id;
}

/** The demo project and user (member of it) with `password`; the password is (re)set when it differs. */
export async function ensureDemoUser(
  admin: CloudApi,
  password: string,
  say: Say,
): Promise<{ projectId: string; userId: string }> {
  const projects = await admin.call<{ projects: Array<{ id: string }> }>(
    'GET',
    `/identity/v3/projects?name=${q(DEMO.project)}&domain_id=default`,
  );
  let projectId = projects.projects[0]?.id;
  if (!projectId) {
    projectId = (
      await admin.call<{ project: { id: string } }>('POST', '/identity/v3/projects', {
        project: { name: DEMO.project, domain_id: 'default', description: 'Demo project (homestack aio up)' },
      })
    ).project.id;
    say(`created project ${DEMO.project}`);
  }
  const users = await admin.call<{ users: Array<{ id: string }> }>(
    'GET',
    `/identity/v3/users?name=${q(DEMO.user)}&domain_id=default`,
  );
  let userId = users.users[0]?.id;
  if (!userId) {
    userId = (
      await admin.call<{ user: { id: string } }>('POST', '/identity/v3/users', {
        user: { name: DEMO.user, domain_id: 'default', password, default_project_id: projectId, enabled: true },
      })
    ).user.id;
    say(`created user ${DEMO.user}`);
  }
  const roles = await admin.call<{ roles: Array<{ id: string }> }>('GET', '/identity/v3/roles?name=member');
  const member = roles.roles[0]?.id;
  if (!member) throw new Error('the member role is missing (homestack bootstrap makes it)');
  await admin.call('PUT', `/identity/v3/projects/${projectId}/users/${userId}/roles/${member}`);
  return { projectId, userId };
}

/** Whether `password` signs `demo` in; if not, the admin sets it (the file is the truth). */
export async function ensureDemoPassword(
  admin: CloudApi,
  login: () => Promise<CloudApi>,
  userId: string,
  password: string,
  say: Say,
): Promise<CloudApi> {
  try {
    return await login();
  } catch (e) {
    if (!(e instanceof ApiCallError) || e.status !== 401) throw e;
  }
  await admin.call('PATCH', `/identity/v3/users/${userId}`, { user: { password, enabled: true } });
  say(`reset the password of ${DEMO.user} to the one in its openrc`);
  return login();
}

/**
 * As the demo user: the `private` network and subnet, and `router1` with its gateway
 * on the external network and an interface on the subnet (DevStack's layout).
 */
export async function ensureDemoNetwork(demo: CloudApi, externalNetworkId: string, say: Say): Promise<void> {
  const mine = `project_id=${q(demo.projectId)}`;
  const nets = await demo.call<{ networks: Array<{ id: string }> }>('GET', `/network/v2.0/networks?name=${DEMO.network}&${mine}`);
  let netId = nets.networks[0]?.id;
  if (!netId) {
    netId = (await demo.call<{ network: { id: string } }>('POST', '/network/v2.0/networks', { network: { name: DEMO.network } }))
      .network.id;
    say(`created network ${DEMO.network}`);
  }
  const subs = await demo.call<{ subnets: Array<{ id: string }> }>('GET', `/network/v2.0/subnets?network_id=${netId}`);
  let subnetId = subs.subnets[0]?.id;
  if (!subnetId) {
    subnetId = (
      await demo.call<{ subnet: { id: string } }>('POST', '/network/v2.0/subnets', {
        subnet: { name: DEMO.subnet, network_id: netId, ip_version: 4, cidr: DEMO_CIDR },
      })
    ).subnet.id;
    say(`created subnet ${DEMO.subnet} ${DEMO_CIDR}`);
  }
  const routers = await demo.call<{
    routers: Array<{ id: string; external_gateway_info: { network_id: string } | null }>;
  }>('GET', `/network/v2.0/routers?name=${DEMO.router}&${mine}`);
  let router = routers.routers[0];
  if (!router) {
    router = (
      await demo.call<{ router: { id: string; external_gateway_info: { network_id: string } | null } }>(
        'POST',
        '/network/v2.0/routers',
        { router: { name: DEMO.router, external_gateway_info: { network_id: externalNetworkId } } },
      )
    ).router;
    say(`created router ${DEMO.router}`);
  } else if (router.external_gateway_info?.network_id !== externalNetworkId) {
    await demo.call('PUT', `/network/v2.0/routers/${router.id}`, {
      router: { external_gateway_info: { network_id: externalNetworkId } },
    });
  }
  const ports = await demo.call<{ ports: Array<{ fixed_ips: Array<{ subnet_id: string }> }> }>(
    'GET',
    `/network/v2.0/ports?device_id=${router.id}`,
  );
  if (!ports.ports.some((p) => p.fixed_ips.some((f) => f.subnet_id === subnetId))) {
    await demo.call('PUT', `/network/v2.0/routers/${router.id}/add_router_interface`, { subnet_id: subnetId });
    say(`attached ${DEMO.subnet} to ${DEMO.router}`);
  }
}
