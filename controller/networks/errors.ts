import { BadRequest, Conflict, Forbidden, NotFound } from '../../shared/errors/index.js';

/** Neutron's error classes: the class name is the `type` of the NeutronError body. */
export class NetworkNotFound extends NotFound {
  constructor(id: string) {
    super(`Network ${id} could not be found.`);
  }
}
export class SubnetNotFound extends NotFound {
  constructor(id: string) {
    super(`Subnet ${id} could not be found.`);
  }
}
export class PortNotFound extends NotFound {
  constructor(id: string) {
    super(`Port ${id} could not be found.`);
  }
}
export class RouterNotFound extends NotFound {
  constructor(id: string) {
    super(`Router ${id} could not be found.`);
  }
}
export class FloatingIPNotFound extends NotFound {
  constructor(id: string) {
    super(`Floating IP ${id} could not be found`);
  }
}
export class SecurityGroupNotFound extends NotFound {
  constructor(id: string) {
    super(`Security group ${id} does not exist`);
  }
}
export class SecurityGroupRuleNotFound extends NotFound {
  constructor(id: string) {
    super(`Security group rule ${id} does not exist`);
  }
}
export class AgentNotFound extends NotFound {
  constructor(id: string) {
    super(`Agent ${id} could not be found.`);
  }
}
export class ExtensionNotFound extends NotFound {
  constructor(alias: string) {
    super(`Extension with alias ${alias} does not exist.`);
  }
}
export class ExternalGatewayForFloatingIPNotFound extends NotFound {
  constructor(subnetId: string, extNetId: string, portId: string) {
    super(
      `External network ${extNetId} is not reachable from subnet ${subnetId}. Therefore, cannot associate Port ${portId} with a Floating IP.`,
    );
  }
}
export class RouterInterfaceNotFound extends NotFound {
  constructor(routerId: string, what: string) {
    super(`Router ${routerId} does not have an interface with ${what}.`);
  }
}
export class NetworkInUse extends Conflict {
  constructor(id: string) {
    super(`Unable to complete operation on network ${id}. There are one or more ports still in use on the network.`);
  }
}
export class SubnetInUse extends Conflict {
  constructor(id: string, why = 'One or more ports have an IP allocation from this subnet.') {
    super(`Unable to complete operation on subnet ${id}: ${why}`);
  }
}
export class PortInUse extends Conflict {
  constructor(id: string, device: string) {
    super(`Unable to complete operation on port ${id}. The port is in use by ${device}.`);
  }
}
export class RouterInUse extends Conflict {
  constructor(id: string, why: string) {
    super(`Router ${id} ${why}`);
  }
}
export class SecurityGroupInUse extends Conflict {
  constructor(id: string) {
    super(`Security Group ${id} in use.`);
  }
}
export class SecurityGroupCannotRemoveDefault extends Conflict {
  constructor() {
    super('Insufficient rights for removing default security group.');
  }
}
/** Neutron's name validator (`type:name_not_default`) on create and update: 409. */
export class SecurityGroupDefaultAlreadyExists extends Conflict {
  constructor() {
    super('Default security group already exists.');
  }
}
export class SecurityGroupCannotUpdateDefault extends Conflict {
  constructor() {
    super('Updating default security group not allowed.');
  }
}
export class SecurityGroupInvalidPortValue extends BadRequest {
  constructor(port: number) {
    super(`Invalid value for port ${port}.`);
  }
}
export class SecurityGroupInvalidPortRange extends BadRequest {
  constructor() {
    super('For TCP/UDP protocols, port_range_min must be <= port_range_max');
  }
}
export class SecurityGroupInvalidIcmpValue extends BadRequest {
  constructor(field: 'type' | 'code', attr: string, value: number) {
    super(`Invalid value for ICMP ${field} (${attr}) ${value}. It must be 0 to 255.`);
  }
}
export class SecurityGroupMissingIcmpType extends BadRequest {
  constructor(value: number) {
    super(`ICMP code (port-range-max) ${value} is provided but ICMP type (port-range-min) is missing.`);
  }
}
export class SecurityGroupRuleExists extends Conflict {
  constructor(id: string) {
    super(`Security group rule already exists. Rule id is ${id}.`);
  }
}
export class FloatingIpInUse extends Conflict {}
export class MacAddressInUse extends Conflict {
  constructor(mac: string, net: string) {
    super(`Unable to complete operation for network ${net}. The mac address ${mac} is in use.`);
  }
}
export class OverQuota extends Conflict {
  constructor(resource: string) {
    super(`Quota exceeded for resources: ['${resource}'].`);
  }
}
export class BadRouterInterface extends BadRequest {
  constructor(message: string) {
    super(message, 'BadRequest');
  }
}
export class InvalidInput extends BadRequest {
  constructor(message: string) {
    super(`Invalid input for operation: ${message}`);
  }
}
export class PolicyNotAuthorized extends Forbidden {
  constructor(action: string) {
    super(`(rule:${action}) is disallowed by policy.`);
  }
}
