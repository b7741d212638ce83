import type { FastifyInstance } from 'fastify';
import { NetworkCreate, NetworkUpdate, PortCreate, PortUpdate, SubnetCreate, SubnetUpdate } from '../../shared/api/network.js';
import type { Svc } from './context.js';
import { crudRoutes } from './crud.js';
import { createNetwork, deleteNetwork, getNetwork, listNetworks, networkView, updateNetwork } from './networks.service.js';
import { createPort, deletePort, getPort, listPorts, portView, updatePort } from './ports.service.js';
import { createSubnet, deleteSubnet, getSubnet, listSubnets, subnetView, updateSubnet } from './subnets.service.js';

/** /v2.0/networks, /v2.0/subnets, /v2.0/ports. */
export function l2Routes(app: FastifyInstance, s: Svc): void {
  crudRoutes(app, {
    plural: 'networks',
    singular: 'network',
    list: (ctx) => listNetworks(s, ctx),
    show: (ctx, id) => networkView(s, ctx, getNetwork(s, ctx, id)),
    create: { schema: NetworkCreate, run: (ctx, b) => networkView(s, ctx, createNetwork(s, ctx, b)) },
    update: { schema: NetworkUpdate, run: (ctx, id, b) => networkView(s, ctx, updateNetwork(s, ctx, id, b)) },
    remove: (ctx, id) => deleteNetwork(s, ctx, id),
  });
  crudRoutes(app, {
    plural: 'subnets',
    singular: 'subnet',
    list: (ctx) => listSubnets(s, ctx).map((x) => subnetView(x)),
    show: (ctx, id) => subnetView(getSubnet(s, ctx, id)),
    create: { schema: SubnetCreate, run: (ctx, b) => subnetView(createSubnet(s, ctx, b)) },
    update: { schema: SubnetUpdate, run: (ctx, id, b) => subnetView(updateSubnet(s, ctx, id, b)) },
    remove: (ctx, id) => deleteSubnet(s, ctx, id),
  });
  crudRoutes(app, {
    plural: 'ports',
    singular: 'port',
    list: (ctx) => listPorts(s, ctx),
    show: (ctx, id) => portView(s, ctx, getPort(s, ctx, id)),
    create: { schema: PortCreate, run: (ctx, b) => portView(s, ctx, createPort(s, ctx, b)) },
    update: { schema: PortUpdate, run: (ctx, id, b) => portView(s, ctx, updatePort(s, ctx, id, b)) },
    remove: (ctx, id) => deletePort(s, ctx, id),
  });
}
