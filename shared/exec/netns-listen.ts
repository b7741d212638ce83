import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import type { Server } from 'node:net';
import { TOOL_PATH } from './run.js';

/**
 * A TCP listening socket inside a network namespace, owned by this process.
 *
 * A socket belongs to the namespace it was created in, whoever holds it. A short-lived
 * Node child started by `ip netns exec <ns>` binds the address there and hands the
 * listening socket back over the IPC channel (Node's handle passing, as cluster does),
 * then exits; this process accepts the connections. No daemon per namespace, and the
 * caller sees each peer's real address (no header to trust).
 *
 * The socket keeps its namespace alive even after `ip netns del`: close it first.
 * `nsInode` is the namespace's inode, to notice a namespace deleted and made again.
 */
export interface NetnsListener {
  server: Server;
  nsInode: number;
}

const CHILD = `
const net = require('node:net'), fs = require('node:fs');
const [host, port] = [process.argv[1], Number(process.argv[2])];
const s = net.createServer();
s.on('error', (e) => { process.send({ error: e.message }, () => process.exit(1)); });
s.listen({ host, port, exclusive: true }, () => {
  process.send({ nsInode: fs.statSync('/proc/self/ns/net').ino }, s, () => process.exit(0));
});`;

/**
 * `o.enter`: a command prefix that `ip netns exec` runs under, e.g. nsenter into a
 * simulated host's mount namespace (whose /run/netns holds its namespaces); tests only.
 */
export function listenInNetns(
  ns: string,
  host: string,
  port: number,
  o: { timeoutMs?: number; enter?: string[] } = {},
): Promise<NetnsListener> {
  const timeoutMs = o.timeoutMs ?? 10_000;
  if (!/^[A-Za-z0-9_.-]{1,64}$/.test(ns)) return Promise.reject(new Error(`bad namespace name ${ns}`));
  return new Promise((resolve, reject) => {
    // The same PATH as every tool run by run.ts (the agent's own may lack sbin).
    const env = { PATH: TOOL_PATH, LC_ALL: 'C', LANG: 'C' };
    const ipPath = ['/usr/sbin/ip', '/sbin/ip', '/usr/bin/ip', '/bin/ip'].find((p) => existsSync(p)) ?? 'ip';
    const argv = [...(o.enter ?? []), ipPath, 'netns', 'exec', ns, process.execPath, '-e', CHILD, host, String(port)];
    const child = spawn(argv[0]!, argv.slice(1), {
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
      env,
    });
    let stderr = '';
    let done = false;
    const finish = (err: Error | null, v?: NetnsListener) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (err) {
        child.kill('SIGKILL');
        reject(err);
      } else resolve(v!);
    };
    const timer = setTimeout(() => finish(new Error(`listening in ${ns} took over ${timeoutMs} ms`)), timeoutMs);
    child.stderr!.on('data', (b: Buffer) => {
      stderr = (stderr + b.toString()).slice(-2000);
    });
    child.on('message', (m: { error?: string; nsInode?: number }, handle?: unknown) => {
      if (m.error) finish(new Error(`listen on ${host}:${port} in ${ns}: ${m.error}`));
      else if (handle) finish(null, { server: handle as Server, nsInode: m.nsInode ?? 0 });
    });
    child.on('error', (e) => finish(e));
    child.on('exit', (code) => finish(new Error(`listener helper for ${ns} exited ${code}: ${stderr.trim()}`)));
  });
}
