/**
 * How kubeha reaches a host: run a command, optionally feeding it input.
 * Everything else (files, services, etcdctl) is built on this one call, so
 * the SSH implementation and the scripted fake for unit tests stay small.
 */

/** What a command printed and how it ended. */
export interface ExecResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export interface ExecOptions {
  /** Bytes for the command's standard input. */
  readonly stdin?: string | Buffer;
  readonly timeoutMs?: number;
}

/** A connection to one host. */
export interface Transport {
  /** Runs `command` with `sh -c` semantics as root on the host. */
  exec(command: string, opts?: ExecOptions): Promise<ExecResult>;
  close(): Promise<void>;
}

/** Quotes `s` for a POSIX shell. */
export function shq(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}
