import type { HostOps } from '../pki/install.js';
import type { Remote } from './remote.js';

/**
 * A host reached over SSH as HostOps (libvirt's TLS at `homestack host add`): files are
 * written through stdin (keys never on a command line) to a temporary name, given their
 * mode and group, and renamed; libvirtd is restarted through systemd when it is PID 1,
 * otherwise by its pid file (/run/libvirtd.pid) and started again with --listen.
 */
export function remoteHostOps(remote: Remote): HostOps {
  const exec = remote.exec.bind(remote);
  return {
    async read(path) {
      const r = await exec(['cat', path], { allowFail: true });
      return r.code === 0 ? r.stdout : null;
    },
    async write(f) {
      await exec(
        [
          'sh',
          '-c',
          'umask 077 && mkdir -p "$(dirname "$1")" && cat > "$1.new" && chmod "$2" "$1.new" && { [ -z "$3" ] || chgrp "$3" "$1.new"; } && mv "$1.new" "$1"',
          'sh',
          f.path,
          f.mode.toString(8),
          f.group ?? '',
        ],
        { stdin: f.content },
      );
    },
    async listening(port) {
      const hex = `:${port.toString(16).toUpperCase().padStart(4, '0')} `;
      const r = await exec(['cat', '/proc/net/tcp', '/proc/net/tcp6'], { allowFail: true });
      return r.stdout.split('\n').some((l) => l.includes(hex) && / 0A /.test(l));
    },
    async restartLibvirtd() {
      const pid1 = (await exec(['cat', '/proc/1/comm'])).stdout.trim();
      if (pid1 === 'systemd') {
        await exec(['systemctl', 'enable', '--now', 'libvirtd-tls.socket'], { timeoutMs: 60_000 });
        await exec(['systemctl', 'restart', 'libvirtd.service'], { timeoutMs: 120_000 });
        return 'systemctl restart libvirtd (libvirtd-tls.socket enabled)';
      }
      await exec(
        [
          'sh',
          '-c',
          'p=$(cat /run/libvirtd.pid 2>/dev/null); [ -n "$p" ] && kill "$p" 2>/dev/null; for i in $(seq 1 150); do [ -n "$p" ] && kill -0 "$p" 2>/dev/null || break; sleep 0.1; done; libvirtd -d -l -p /run/libvirtd.pid',
        ],
        { timeoutMs: 60_000 },
      );
      return 'restarted libvirtd --listen (pid file /run/libvirtd.pid)';
    },
  };
}
