import { join } from 'node:path';
import type { ControllerConfig } from '../../shared/config/controller.js';
import { Conflict } from '../../shared/errors/index.js';
import type { QemuImg } from '../../shared/tools/qemu-img.js';
import { FileImageStore, type ImageStore } from './store.js';

/** One configured store: what GET /v2/info/stores shows and where its bytes go. */
export interface StoreEntry {
  id: string;
  description: string;
  store: ImageStore;
}

/** Glance's answer for a store id it does not know (glance_store.UnknownScheme, 409 at import). */
export class UnknownStore extends Conflict {
  constructor(id: string) {
    super(`Unknown scheme '${id}' found in URI`);
  }
}

/** Store drivers by config string (house style: a literal map). */
const DRIVERS: Record<string, (dir: string, qemu: QemuImg | null) => ImageStore> = {
  file: (dir, qemu) => new FileImageStore(dir, qemu),
};

/**
 * The image stores of this cloud (Glance's enabled_backends): an image's bytes live in
 * one or more of them under the same key. The first store, or `default_store`, takes
 * uploads and imports that name none.
 */
export class ImageStores {
  readonly defaultId: string;

  constructor(
    readonly entries: readonly StoreEntry[],
    defaultId?: string,
  ) {
    if (!entries.length) throw new Error('no image store configured');
    const ids = new Set<string>();
    for (const e of entries) {
      if (ids.has(e.id)) throw new Error(`image store ${JSON.stringify(e.id)} is configured twice`);
      ids.add(e.id);
    }
    this.defaultId = defaultId || entries[0]!.id;
    if (!ids.has(this.defaultId))
      throw new Error(`images.default_store ${JSON.stringify(this.defaultId)} is not a configured store`);
  }

  /** Whether more than one store exists (then copy-image and per-store deletes make sense). */
  get multiple(): boolean {
    return this.entries.length > 1;
  }

  get default(): ImageStore {
    return this.get(this.defaultId);
  }

  ids(): string[] {
    return this.entries.map((e) => e.id);
  }

  has(id: string): boolean {
    return this.entries.some((e) => e.id === id);
  }

  /** The store `id`; UnknownStore (409) when it is not configured. */
  get(id: string): ImageStore {
    const e = this.entries.find((x) => x.id === id);
    if (!e) throw new UnknownStore(id);
    return e.store;
  }

  /** Prepares every store (removes their crash leftovers). */
  async init(): Promise<void> {
    for (const e of this.entries) await e.store.init();
  }
}

/**
 * The stores from controller.toml: `images.stores`, or one file store "fs" under
 * <data_dir>/images. `override` replaces the default store's driver (tests).
 */
export function buildImageStores(config: ControllerConfig, qemu: QemuImg | null, override?: ImageStore): ImageStores {
  const c = config.images;
  if (!c.stores.length) {
    const store = override ?? DRIVERS[c.store]!(join(config.data_dir, 'images'), qemu);
    return new ImageStores([{ id: 'fs', description: '', store }], c.default_store || undefined);
  }
  const defaultId = c.default_store || c.stores[0]!.id;
  const entries = c.stores.map((s) => ({
    id: s.id,
    description: s.description,
    store: override && s.id === defaultId ? override : DRIVERS[s.driver]!(s.dir, qemu),
  }));
  return new ImageStores(entries, defaultId);
}
