import type { FastifyInstance } from 'fastify';
import { SecurityGroupCreate, SecurityGroupRuleCreate, SecurityGroupUpdate } from '../../shared/api/network.js';
import { queryOf } from './common.js';
import type { Svc } from './context.js';
import { crudRoutes } from './crud.js';
import {
  createGroup,
  createRule,
  deleteGroup,
  deleteRule,
  getGroup,
  getRule,
  groupView,
  listGroups,
  listRules,
  ruleView,
  updateGroup,
} from './secgroups.service.js';

/** /v2.0/security-groups and /v2.0/security-group-rules. */
export function securityGroupRoutes(app: FastifyInstance, s: Svc): void {
  crudRoutes(app, {
    plural: 'security_groups',
    singular: 'security_group',
    url: 'security-groups',
    list: (ctx, req) => {
      const q = queryOf(req);
      return listGroups(s, ctx, [...(q.get('project_id') ?? []), ...(q.get('tenant_id') ?? [])]).map((g) => groupView(s, g));
    },
    show: (ctx, id) => groupView(s, getGroup(s, ctx, id)),
    create: { schema: SecurityGroupCreate, run: (ctx, b) => groupView(s, createGroup(s, ctx, b)) },
    update: { schema: SecurityGroupUpdate, run: (ctx, id, b) => groupView(s, updateGroup(s, ctx, id, b)) },
    remove: (ctx, id) => deleteGroup(s, ctx, id),
  });
  crudRoutes(app, {
    plural: 'security_group_rules',
    singular: 'security_group_rule',
    url: 'security-group-rules',
    list: (ctx) => listRules(s, ctx).map(ruleView),
    show: (ctx, id) => ruleView(getRule(s, ctx, id)),
    create: { schema: SecurityGroupRuleCreate, run: (ctx, b) => ruleView(createRule(s, ctx, b)) },
    remove: (ctx, id) => deleteRule(s, ctx, id),
  });
}
