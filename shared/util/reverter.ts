/**
 * Undo as you go (the Incus `revert` idea): register the inverse of each side effect
 * right after it succeeds; on failure call `revert()` to run them newest first; on
 * success call `success()` to forget them.
 */
export class Reverter {
  private undo: Array<{ what: string; fn: () => unknown | Promise<unknown> }> = [];

  add(what: string, fn: () => unknown | Promise<unknown>): void {
    this.undo.push({ what, fn });
  }

  success(): void {
    this.undo = [];
  }

  /** Runs every registered inverse, newest first; returns the errors it met. */
  async revert(): Promise<Array<{ what: string; error: unknown }>> {
    const errors: Array<{ what: string; error: unknown }> = [];
    for (const u of this.undo.reverse()) {
      try {
        await u.fn();
      } catch (error) {
        errors.push({ what: u.what, error });
      }
    }
    this.undo = [];
    return errors;
  }
}
