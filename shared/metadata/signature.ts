import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * The metadata proxy's proof that it identified the caller (Nova's
 * X-Instance-ID-Signature): HMAC-SHA256 of the instance id under the shared secret
 * that only the controller and its network agents hold, as lowercase hex.
 */
export const INSTANCE_ID_HEADER = 'x-instance-id';
export const TENANT_ID_HEADER = 'x-tenant-id';
export const SIGNATURE_HEADER = 'x-instance-id-signature';
export const FORWARDED_FOR_HEADER = 'x-forwarded-for';

export function signInstanceId(secret: string, instanceId: string): string {
  return createHmac('sha256', secret).update(instanceId, 'utf8').digest('hex');
}

/** True when `signature` is the signature of `instanceId` (constant time). */
export function signatureValid(secret: string, instanceId: string, signature: string | undefined): boolean {
  if (!secret || !signature || !/^[0-9a-f]{64}$/.test(signature)) return false;
  return timingSafeEqual(Buffer.from(signInstanceId(secret, instanceId), 'hex'), Buffer.from(signature, 'hex'));
}
