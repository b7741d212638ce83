import { createHash, createPublicKey, generateKeyPairSync } from 'node:crypto';
import { KeypairCreate } from '../../shared/api/compute.js';
import { BadRequest, Conflict, Forbidden, NotFound } from '../../shared/errors/index.js';
import type { AuthContext } from '../http/auth.js';
import { must, type ComputeCtx } from './context.js';
import { quotaLimit } from './quotas.service.js';
import { validate } from '../http/validate.js';
import type { Keypair, KeypairsRepo } from './keypairs.repo.js';

const SSH_TYPES = new Set([
  'ssh-rsa',
  'ssh-dss',
  'ssh-ed25519',
  'ecdsa-sha2-nistp256',
  'ecdsa-sha2-nistp384',
  'ecdsa-sha2-nistp521',
  'sk-ssh-ed25519@openssh.com',
  'sk-ecdsa-sha2-nistp256@openssh.com',
]);

/**
 * Nova's fingerprint (nova/crypto.py generate_fingerprint): the MD5 of the
 * base64-decoded key blob, as colon-separated hex, the same as `ssh-keygen -l -E md5`.
 * Throws BadRequest when the key is not an OpenSSH public key.
 */
export function fingerprint(publicKey: string): string {
  const parts = publicKey.trim().split(/\s+/);
  const [type, b64] = parts;
  const bad = () => new BadRequest('Keypair data is invalid: failed to generate fingerprint');
  if (!type || !b64 || !SSH_TYPES.has(type) || !/^[A-Za-z0-9+/]+={0,2}$/.test(b64)) throw bad();
  const blob = Buffer.from(b64, 'base64');
  // The blob starts with its own type as an SSH string; it must match.
  if (blob.length < 4) throw bad();
  const n = blob.readUInt32BE(0);
  if (n + 4 > blob.length || blob.subarray(4, 4 + n).toString('latin1') !== type) throw bad();
  const hex = createHash('md5').update(blob).digest('hex');
  return hex.match(/../g)!.join(':');
}

const sshString = (b: Buffer) => {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(b.length);
  return Buffer.concat([len, b]);
};
const mpint = (b: Buffer) => {
  let x = b;
  while (x.length > 1 && x[0] === 0 && !(x[1]! & 0x80)) x = x.subarray(1);
  return sshString(x[0]! & 0x80 ? Buffer.concat([Buffer.from([0]), x]) : x);
};

/** RSA-2048 as Nova generates it: PEM private key and an OpenSSH public key "… Generated-by-Nova". */
export function generateRsaKeypair(): { privateKey: string; publicKey: string } {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs1', format: 'pem' },
  });
  const jwk = createPublicKey(publicKey).export({ format: 'jwk' }) as { n: string; e: string };
  const blob = Buffer.concat([
    sshString(Buffer.from('ssh-rsa')),
    mpint(Buffer.from(jwk.e, 'base64url')),
    mpint(Buffer.from(jwk.n, 'base64url')),
  ]);
  return { privateKey, publicKey: `ssh-rsa ${blob.toString('base64')} Generated-by-Nova` };
}

/** Keypairs are per user; an admin may act for another user from 2.10 (user_id). */
function ownerOf(auth: AuthContext, userId: string | undefined): string {
  return userId && auth.isAdmin ? userId : auth.userId;
}

export function keypairView(k: Keypair, full: boolean): Record<string, unknown> {
  const v: Record<string, unknown> = { name: k.name, public_key: k.public_key, fingerprint: k.fingerprint };
  if (full) Object.assign(v, { user_id: k.user_id });
  return v;
}

export function createKeypair(
  ctx: ComputeCtx,
  repo: KeypairsRepo,
  auth: AuthContext,
  body: unknown,
): { keypair: Keypair; privateKey?: string } {
  const kp = validate(KeypairCreate, body).keypair;
  const userId = ownerOf(auth, kp.user_id);
  must(ctx, 'os_compute_api:os-keypairs:create', auth, { user_id: userId });
  const name = kp.name.trim();
  if (!name) throw new BadRequest('Keypair data is invalid: Keypair name must be string and between 1 and 255 characters long');
  const limit = quotaLimit(ctx, auth.projectId ?? '', 'key_pairs');
  if (limit >= 0 && repo.count(userId) >= limit) throw new Forbidden('Quota exceeded, too many key pairs.');
  if (repo.get(userId, name)) throw new Conflict(`Key pair '${name}' already exists.`, 'KeyPairExists');
  let publicKey = kp.public_key?.trim();
  let privateKey: string | undefined;
  if (!publicKey) {
    const g = generateRsaKeypair();
    publicKey = g.publicKey;
    privateKey = g.privateKey;
  }
  const k: Keypair = {
    user_id: userId,
    name,
    public_key: publicKey,
    fingerprint: fingerprint(publicKey),
    type: kp.type ?? 'ssh',
    created_at: ctx.now().toISOString(),
  };
  repo.insert(k);
  return { keypair: k, privateKey };
}

export function getKeypair(ctx: ComputeCtx, repo: KeypairsRepo, auth: AuthContext, name: string, userIdParam?: string): Keypair {
  const userId = ownerOf(auth, userIdParam);
  must(ctx, 'os_compute_api:os-keypairs:show', auth, { user_id: userId });
  const k = repo.get(userId, name);
  if (!k) throw new NotFound(`Keypair ${name} not found for user ${userId}`, 'KeypairNotFound');
  return k;
}

export function deleteKeypair(ctx: ComputeCtx, repo: KeypairsRepo, auth: AuthContext, name: string, userIdParam?: string): void {
  const userId = ownerOf(auth, userIdParam);
  must(ctx, 'os_compute_api:os-keypairs:delete', auth, { user_id: userId });
  if (!repo.delete(userId, name)) throw new NotFound(`Keypair ${name} not found for user ${userId}`, 'KeypairNotFound');
}
