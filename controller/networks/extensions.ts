import type { FastifyInstance } from 'fastify';
import { ExtensionNotFound } from './errors.js';

const UPDATED = '2026-11-22T00:00:00-00:00';
/**
 * The extensions this service really implements (clients probe this list before they
 * use a feature, so nothing is listed that is not served).
 */
export const EXTENSIONS: Array<{ alias: string; name: string; description: string }> = [
  {
    alias: 'agent',
    name: 'agent',
    description: 'The agent management extension (read only: one Open vSwitch, DHCP and L3 agent per network host).',
  },
  { alias: 'allowed-address-pairs', name: 'Allowed Address Pairs', description: 'Provides allowed address pairs' },
  { alias: 'binding', name: 'Port Binding', description: 'Expose port bindings of a virtual port to external application' },
  {
    alias: 'external-net',
    name: 'Neutron external network',
    description: 'Adds external network attribute to network resource.',
  },
  {
    alias: 'ext-gw-mode',
    name: 'Neutron L3 Configurable external gateway mode',
    description: 'Extension of the router abstraction for specifying whether SNAT should occur on the external gateway',
  },
  {
    alias: 'fip-port-details',
    name: 'Floating IP Port Details Extension',
    description: 'Add port_details attribute to Floating IP resource',
  },
  {
    alias: 'ip-substring-filtering',
    name: 'IP address substring filtering',
    description: 'Provides IP address substring filtering when listing ports',
  },
  { alias: 'net-mtu', name: 'Network MTU', description: 'Provides MTU attribute for a network resource.' },
  {
    alias: 'network-ip-availability',
    name: 'Network IP Availability',
    description: 'Provides IP availability data for each network and subnet.',
  },
  { alias: 'pagination', name: 'Pagination support', description: 'Extension that indicates that pagination is enabled.' },
  { alias: 'port-security', name: 'Port Security', description: 'Provides port security' },
  {
    alias: 'project-id',
    name: 'project_id field enabled',
    description: 'Extension that indicates that project_id field is enabled.',
  },
  { alias: 'provider', name: 'Provider Network', description: 'Expose mapping of virtual networks to physical networks' },
  { alias: 'quotas', name: 'Quota management support', description: 'Expose functions for quotas management per project' },
  {
    alias: 'quota_details',
    name: 'Quota details management support',
    description: 'Expose functions for quotas usage statistics per project',
  },
  {
    alias: 'router',
    name: 'Neutron L3 Router',
    description:
      'Router abstraction for basic L3 forwarding between L2 Neutron networks and access to external networks via a NAT gateway.',
  },
  { alias: 'security-group', name: 'security-group', description: 'The security groups extension.' },
  { alias: 'sorting', name: 'Sorting support', description: 'Extension that indicates that sorting is enabled.' },
  {
    alias: 'standard-attr-description',
    name: 'standard-attr-description',
    description: 'Extension to add descriptions to standard attributes',
  },
  {
    alias: 'standard-attr-revisions',
    name: 'Resource revision numbers',
    description: 'This extension will display the revision number of neutron resources.',
  },
  {
    alias: 'standard-attr-tag',
    name: 'Tag support for resources with standard attribute: network, subnet, port, router, floatingip, security_group',
    description: 'Enables to set tag on resources with standard attribute.',
  },
  {
    alias: 'standard-attr-timestamp',
    name: 'Resource timestamps',
    description: 'Adds created_at and updated_at fields to all Neutron resources that have Neutron standard attributes.',
  },
];

const doc = (e: (typeof EXTENSIONS)[number]) => ({ ...e, updated: UPDATED, links: [] });

/** GET /v2.0/extensions and /v2.0/extensions/{alias} (404 for anything not listed). */
export function extensionRoutes(app: FastifyInstance): void {
  app.get('/v2.0/extensions', async () => ({ extensions: EXTENSIONS.map(doc) }));
  app.get<{ Params: { alias: string } }>('/v2.0/extensions/:alias', async (req) => {
    const e = EXTENSIONS.find((x) => x.alias === req.params.alias);
    if (!e) throw new ExtensionNotFound(req.params.alias);
    return { extension: doc(e) };
  });
}
