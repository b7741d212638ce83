import type { FastifyInstance } from 'fastify';
import { CredentialCreate, CredentialUpdate, Ec2Create, PolicyCreate, PolicyUpdate } from '../../shared/api/identity.js';
import { validate } from '../http/validate.js';
import type { Kit } from './auth.routes.js';
import { keystoneRejection, member } from './body.js';
import { q } from './input.js';
import type { PolicyRow } from './identity.repo.js';
import { credentialView, ec2View, policyView } from './views.js';

/** /v3/credentials, /v3/users/{id}/credentials/OS-EC2 and /v3/policies (credentials.service.ts). */
type P = { id: string };
type UA = { id: string; access: string };

export function credentialRoutes(app: FastifyInstance, kit: Kit): void {
  const { svc } = kit;
  const b = kit.base;
  const creds = svc.credentials;

  app.get('/v3/credentials', async (req) => {
    const ctx = kit.enforce(req, 'identity:list_credentials');
    const rows = creds
      .list({ user_id: q(req.query, 'user_id'), type: q(req.query, 'type') })
      .filter((c) => svc.policy.allowed('identity:get_credential', ctx, { user_id: c.user_id }));
    return kit.list(
      req,
      'credentials',
      rows.map((c) => credentialView(b(req), c)),
    );
  });
  app.post('/v3/credentials', async (req, reply) => {
    const o = member(CredentialCreate, req.body, 'credential');
    kit.enforce(req, 'identity:create_credential', { user_id: o.user_id });
    return reply.status(201).send({ credential: credentialView(b(req), creds.create(o)) });
  });
  app.get<{ Params: P }>('/v3/credentials/:id', async (req) => {
    const c = creds.get(req.params.id);
    kit.enforce(req, 'identity:get_credential', { user_id: c.user_id });
    return { credential: credentialView(b(req), c) };
  });
  app.patch<{ Params: P }>('/v3/credentials/:id', async (req) => {
    const c = creds.get(req.params.id);
    kit.enforce(req, 'identity:update_credential', { user_id: c.user_id });
    const o = member(CredentialUpdate, req.body, 'credential');
    // The owner may not hand the credential to someone else (Keystone checks the merged target too).
    if (o.user_id !== undefined) kit.enforce(req, 'identity:update_credential', { user_id: o.user_id });
    return { credential: credentialView(b(req), creds.update(c.id, o)) };
  });
  app.delete<{ Params: P }>('/v3/credentials/:id', async (req, reply) => {
    const c = creds.get(req.params.id);
    kit.enforce(req, 'identity:delete_credential', { user_id: c.user_id });
    creds.delete(c.id);
    return reply.status(204).send();
  });

  // OS-EC2: the body is not enveloped ({"tenant_id": ...}), the answer is.
  app.get<{ Params: P }>('/v3/users/:id/credentials/OS-EC2', async (req) => {
    kit.enforce(req, 'identity:ec2_list_credentials', { user_id: req.params.id });
    svc.res.user(req.params.id);
    return kit.list(
      req,
      'credentials',
      creds.list({ user_id: req.params.id, type: 'ec2' }).map((c) => ec2View(b(req), c)),
    );
  });
  app.post<{ Params: P }>('/v3/users/:id/credentials/OS-EC2', async (req, reply) => {
    kit.enforce(req, 'identity:ec2_create_credential', { user_id: req.params.id });
    svc.res.user(req.params.id);
    const o = validate(Ec2Create, req.body ?? {}, keystoneRejection);
    return reply.status(201).send({ credential: ec2View(b(req), creds.createEc2(req.params.id, o.tenant_id)) });
  });
  app.get<{ Params: UA }>('/v3/users/:id/credentials/OS-EC2/:access', async (req) => {
    kit.enforce(req, 'identity:ec2_get_credential', { user_id: req.params.id });
    return { credential: ec2View(b(req), creds.ec2(req.params.id, req.params.access)) };
  });
  app.delete<{ Params: UA }>('/v3/users/:id/credentials/OS-EC2/:access', async (req, reply) => {
    kit.enforce(req, 'identity:ec2_delete_credential', { user_id: req.params.id });
    creds.delete(creds.ec2(req.params.id, req.params.access).id);
    return reply.status(204).send();
  });

  // Policies
  app.get('/v3/policies', async (req) => {
    kit.enforce(req, 'identity:list_policies');
    const type = q(req.query, 'type');
    const rows = svc.core.repo.list<PolicyRow>('policies', { type });
    return kit.list(
      req,
      'policies',
      rows.map((p) => policyView(b(req), p)),
    );
  });
  app.post('/v3/policies', async (req, reply) => {
    kit.enforce(req, 'identity:create_policy');
    return reply.status(201).send({ policy: policyView(b(req), creds.createPolicy(member(PolicyCreate, req.body, 'policy'))) });
  });
  app.get<{ Params: P }>('/v3/policies/:id', async (req) => {
    kit.enforce(req, 'identity:get_policy');
    return { policy: policyView(b(req), creds.policy(req.params.id)) };
  });
  app.patch<{ Params: P }>('/v3/policies/:id', async (req) => {
    kit.enforce(req, 'identity:update_policy');
    return { policy: policyView(b(req), creds.updatePolicy(req.params.id, member(PolicyUpdate, req.body, 'policy'))) };
  });
  app.delete<{ Params: P }>('/v3/policies/:id', async (req, reply) => {
    kit.enforce(req, 'identity:delete_policy');
    creds.deletePolicy(req.params.id);
    return reply.status(204).send();
  });
}
