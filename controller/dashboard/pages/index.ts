import type { Page } from '../page.js';
import { imagesPage } from './images.js';
import { instanceDetailPage } from './instance-detail.js';
import { instancesPage } from './instances.js';
import { keypairsPage } from './keypairs.js';
import { overviewPage } from './overview.js';
import { adminFlavorsPage } from './admin-flavors.js';
import { adminHypervisorsPage } from './admin-hypervisors.js';
import { adminInstancesPage } from './admin-instances.js';
import { adminServicesPage } from './admin-services.js';
import { floatingIpsPage } from './floating-ips.js';
import { identityProjectsPage } from './identity-projects.js';
import { identityUsersPage } from './identity-users.js';
import { networkDetailPage } from './network-detail.js';
import { networksPage } from './networks.js';
import { routerDetailPage } from './router-detail.js';
import { routersPage } from './routers.js';
import { securityGroupRulesPage } from './security-group-rules.js';
import { securityGroupsPage } from './security-groups.js';
import { topologyPage } from './topology.js';
import { volumeSnapshotsPage } from './volume-snapshots.js';
import { volumesPage } from './volumes.js';

/**
 * Every dashboard page, one line each. The first is where a signed-in user lands.
 * Navigation order comes from each page's `nav.order`.
 */
export const PAGES: readonly Page[] = [
  overviewPage,
  instancesPage,
  instanceDetailPage,
  imagesPage,
  keypairsPage,
  networksPage,
  networkDetailPage,
  topologyPage,
  routersPage,
  routerDetailPage,
  floatingIpsPage,
  securityGroupsPage,
  securityGroupRulesPage,
  volumesPage,
  volumeSnapshotsPage,
  adminHypervisorsPage,
  adminServicesPage,
  adminInstancesPage,
  adminFlavorsPage,
  identityProjectsPage,
  identityUsersPage,
];
