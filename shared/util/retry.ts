/** Exponential backoff with a cap and full jitter (milliseconds). */
export function backoffMs(attempt: number, baseMs = 1000, capMs = 60_000, rand = Math.random): number {
  const exp = Math.min(capMs, baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(exp / 2 + (rand() * exp) / 2);
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
