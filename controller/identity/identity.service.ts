import type { FastifyBaseLogger, FastifyRequest } from 'fastify';
import type { ControllerConfig } from '../../shared/config/controller.js';
import type { Db } from '../db/open.js';
import type { IdentityFacade } from '../facades.js';
import { baseUrl } from '../http/base-url.js';
import { AppCreds } from './appcreds.service.js';
import { Authenticator } from './auth.service.js';
import { IdentityBackends } from './backends.service.js';
import { Catalog } from './catalog.service.js';
import { Credentials } from './credentials.service.js';
import { DEFAULT_DOMAIN_ID, IdentityCore, SERVICE_PROJECT, SERVICE_USER } from './core.js';
import { PolicyEngine } from './policy.js';
import type { ProjectRow } from './identity.repo.js';
import { Resources } from './resources.service.js';
import { Roles } from './roles.service.js';

/** Everything identity is made of, built once per app (no module-level state). */
export class IdentityService {
  readonly core: IdentityCore;
  /** Each domain's users and groups: SQL or a directory (backends.service.ts). */
  readonly backends: IdentityBackends;
  readonly authn: Authenticator;
  readonly res: Resources;
  readonly roles: Roles;
  readonly catalog: Catalog;
  readonly appCreds: AppCreds;
  /** Credentials (and OS-EC2) and policy blobs. */
  readonly credentials: Credentials;
  readonly policy: PolicyEngine;

  constructor(
    db: Db,
    readonly config: ControllerConfig,
    log: FastifyBaseLogger,
  ) {
    this.core = new IdentityCore(db, config);
    this.backends = new IdentityBackends(this.core, log);
    this.authn = new Authenticator(this.core, this.backends, log);
    this.res = new Resources(this.core, this.backends);
    this.roles = new Roles(this.core, this.res, this.backends);
    this.catalog = new Catalog(this.core);
    this.appCreds = new AppCreds(this.core);
    this.credentials = new Credentials(this.core);
    this.policy = config.identity.policy_file ? PolicyEngine.fromFile(config.identity.policy_file) : new PolicyEngine();
  }

  /** http://host:port[/identity] as the client reached us (or the configured public URL). */
  root(req: FastifyRequest, root: string): string {
    return `${baseUrl(req, this.config.public_url || undefined)}${root}`;
  }

  facade(): IdentityFacade {
    return {
      serviceToken: () => {
        const user = this.core.repo.userByName(DEFAULT_DOMAIN_ID, SERVICE_USER);
        const project = this.core.repo.list<ProjectRow>('projects', { domain_id: DEFAULT_DOMAIN_ID, name: SERVICE_PROJECT })[0];
        if (!user || !project) throw new Error('the internal service user is missing: run `homestack bootstrap`');
        return this.authn.mint({ userId: user.id, methods: ['password'], projectId: project.id }).token;
      },
      projectExists: (id) => !!this.core.repo.get('projects', id),
      projectName: (id) => this.core.repo.get<ProjectRow>('projects', id)?.name ?? null,
    };
  }
}
