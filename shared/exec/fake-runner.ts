import type { Runner, RunOptions, RunResult, ToolName } from './run.js';
import { ToolError } from './run.js';

export interface FakeCall {
  cmd: ToolName;
  args: readonly string[];
  opts?: RunOptions;
}
type Responder = (call: FakeCall) => Partial<RunResult> | Error | undefined;

/**
 * A Runner for unit tests of tool modules: it records every call (so tests assert the
 * exact argv) and answers from the responders, in order; an Error answer is thrown as
 * a ToolError.
 */
export class FakeRunner {
  readonly calls: FakeCall[] = [];
  private readonly responders: Responder[] = [];

  on(match: (c: FakeCall) => boolean, reply: Partial<RunResult> | Error): this {
    this.responders.push((c) => (match(c) ? reply : undefined));
    return this;
  }

  readonly run: Runner = async (cmd, args, opts) => {
    const call = { cmd, args, opts };
    this.calls.push(call);
    for (const r of this.responders) {
      const out = r(call);
      if (out instanceof Error) throw new ToolError(cmd, args, 1, null, false, out.message);
      if (out) return { stdout: '', stderr: '', code: 0, ms: 0, ...out };
    }
    return { stdout: '', stderr: '', code: 0, ms: 0 };
  };
}
