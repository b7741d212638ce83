import { NetworkState, NetworkSync } from '../../shared/agent/network.js';
import type { AgentApp } from '../host/app.js';
import type { NetworkService } from './service.js';

/** HTTP only: the network descriptors, each handled by the service. */
export function registerNetworkRoutes(agent: AgentApp, svc: NetworkService): void {
  agent.route(NetworkSync, (body) => svc.sync(body));
  agent.route(NetworkState, () => svc.state());
}
