import { open } from 'node:fs/promises';

/**
 * Reads the tail of a serial console log (written by virtlogd, appended across
 * restarts). Returns '' when the file does not exist yet (never booted). The cut is
 * moved forward to the next line start so the first line is whole, and invalid UTF-8
 * from the cut or the guest is replaced rather than failing.
 */
export async function readConsoleTail(path: string, maxBytes: number): Promise<{ output: string; truncated: boolean }> {
  let fh;
  try {
    fh = await open(path, 'r');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { output: '', truncated: false };
    throw e;
  }
  try {
    const { size } = await fh.stat();
    const start = Math.max(0, size - maxBytes);
    const len = size - start;
    const buf = Buffer.alloc(len);
    let off = 0;
    while (off < len) {
      const { bytesRead } = await fh.read(buf, off, len - off, start + off);
      if (!bytesRead) break;
      off += bytesRead;
    }
    let data = buf.subarray(0, off);
    if (start > 0) {
      const nl = data.indexOf(0x0a);
      if (nl >= 0 && nl < data.length - 1) data = data.subarray(nl + 1);
    }
    return { output: data.toString('utf8'), truncated: start > 0 };
  } finally {
    await fh.close();
  }
}

/** Nova's `length` for os-getConsoleOutput counts lines: the last n lines of text. */
export function lastLines(text: string, n: number): string {
  const lines = text.split('\n');
  const trailing = lines.length && lines[lines.length - 1] === '' ? lines.pop() : undefined;
  return lines.slice(-n).join('\n') + (trailing !== undefined ? '\n' : '');
}
