import type { IncomingMessage } from 'node:http';
import { Readable } from 'node:stream';

/**
 * The request body as a stream whose destruction does not destroy the connection: when
 * the upload is refused part-way (size cap, quota), the rest of the body is read and
 * discarded instead, so the client gets the 413 rather than a reset connection (what
 * Node does with an unread body after the response, made explicit). A client that
 * aborts still surfaces as an error (code ECONNRESET).
 */
export function uploadBody(src: IncomingMessage, highWaterMark = 256 << 10): Readable {
  let ended = false;
  const onData = (c: Buffer) => {
    if (!out.push(c)) src.pause();
  };
  const onEnd = () => {
    ended = true;
    out.push(null);
  };
  const onAbort = () => {
    if (!ended) out.destroy(Object.assign(new Error('aborted'), { code: 'ECONNRESET' }));
  };
  const detach = () => {
    src.off('data', onData);
    src.off('end', onEnd);
    src.off('error', onAbort);
    src.off('close', onAbort);
  };
  const out = new Readable({
    highWaterMark,
    read() {
      src.resume();
    },
    destroy(err, cb) {
      detach();
      if (!ended && !src.destroyed) src.resume(); // discard what is left
      cb(err);
    },
  });
  src.on('data', onData);
  src.on('end', onEnd);
  src.on('error', onAbort);
  src.on('close', onAbort);
  return out;
}
