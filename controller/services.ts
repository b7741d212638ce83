import type { FastifyPluginAsync } from 'fastify';
import { computePlugin } from './compute/plugin.js';
import { consolePlugin } from './console/plugin.js';
import { dashboardPlugin } from './dashboard/server.js';
import type { ServiceDeps } from './http/service-deps.js';
import { imagePlugin } from './images/plugin.js';
import { networkPlugin } from './networks/plugin.js';
import { volumePlugin } from './volumes/plugin.js';

/**
 * The OpenStack services the controller serves, each an encapsulated Fastify plugin
 * under its devstack-style prefix. Identity is wired separately (everyone depends on
 * its token validator and policy).
 */
export const SERVICES: Array<{ prefix: string; plugin: (deps: ServiceDeps) => FastifyPluginAsync }> = [
  { prefix: '/image', plugin: imagePlugin },
  { prefix: '/compute', plugin: computePlugin },
  { prefix: '/network', plugin: networkPlugin },
  { prefix: '/volume', plugin: volumePlugin },
  // Not an OpenStack API: the noVNC page and its websocket proxy (Nova's novncproxy).
  { prefix: '/console', plugin: consolePlugin },
  // Not an OpenStack API: the web dashboard (Horizon's job), over the APIs above.
  { prefix: '/dashboard', plugin: (deps) => dashboardPlugin(deps) },
];
