import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { FakeHypervisor } from '../fake.js';

/**
 * Test helpers for the VNC path (agent and controller tests): a stand-in display that
 * speaks first like an RFB server and then echoes, and a fake hypervisor whose running
 * instances show that display.
 */
export class FakeDisplay {
  server!: Server;
  sockets: Socket[] = [];
  received: Buffer[] = [];
  async start(): Promise<number> {
    this.server = createServer((s) => {
      this.sockets.push(s);
      s.write('RFB 003.008\n');
      s.on('data', (b) => {
        this.received.push(b);
        s.write(b);
      });
      s.on('error', () => {});
    });
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    return (this.server.address() as AddressInfo).port;
  }
  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}

export class DisplayHypervisor extends FakeHypervisor {
  constructor(private readonly port: () => number) {
    super();
  }
  override async vncConsole(uuid: string) {
    await super.vncConsole(uuid);
    return { host: '127.0.0.1', port: this.port() };
  }
}
