import { Conflict, Forbidden, NotFound } from '../../shared/errors/index.js';
import { isoSeconds } from '../../shared/util/time.js';
import type { AuthContext } from '../http/auth.js';
import type { ImageData } from './image-data.service.js';
import type { ImageService } from './images.service.js';

/**
 * DELETE /v2/stores/{store_id}/{image_id} (Image API v2.10): removes an image's data
 * from one of the stores holding it, never the last one; Glance's checks and messages
 * (glance/api/v2/images.py delete_from_store). With one store it can only refuse.
 */
export class ImageStoreRemoval {
  constructor(
    private readonly images: ImageService,
    private readonly data: ImageData,
  ) {}

  async deleteFromStore(ctx: AuthContext, storeId: string, id: string): Promise<void> {
    if (!this.data.stores.has(storeId)) throw new Conflict(`The selected store ${storeId} is not available on this node.`);
    let i;
    try {
      i = this.images.find(ctx, id);
    } catch {
      throw new NotFound(`Failed to find image ${id}`);
    }
    this.images.enforce('modify_image', ctx, i);
    if (!this.images.isOwner(ctx, i)) throw new Forbidden('You are not permitted to modify this image.');
    if (i.status !== 'active')
      throw new Conflict("It's not allowed to remove image data from store if image status is not 'active'");
    if (i.stores.length === 1 && i.stores[0] === storeId)
      throw new Forbidden('Cannot delete image data from the only store containing it. Consider deleting the image instead.');
    if (!i.stores.includes(storeId) || !i.store_key) throw new NotFound(`Image ${i.id} is not stored in store ${storeId}.`);
    const left = i.stores.filter((s) => s !== storeId);
    if (!this.images.repo.update(i.id, { stores: left, updated_at: isoSeconds(new Date()) }, ['active'])) {
      throw new Conflict("It's not allowed to remove image data from store if image status is not 'active'");
    }
    await this.data.stores.get(storeId).delete(i.store_key);
  }
}
