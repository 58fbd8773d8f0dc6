/**
 * How kubeha reaches a host: run a command, optionally feeding it input, and
 * get its output as text or as bytes (an etcd snapshot travels as bytes).
 * Everything else (files, services, etcdctl) is built on these calls, so the
 * SSH implementation and the scripted fake for unit tests stay small.
 */

/** What a command printed and how it ended. */
export interface ExecResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** The same with standard output as bytes, untouched. */
export interface BytesResult {
  readonly code: number;
  readonly stdout: Buffer;
  readonly stderr: string;
}

export interface ExecOptions {
  /** Bytes for the command's standard input. */
  readonly stdin?: string | Buffer;
  readonly timeoutMs?: number;
}

/** A connection to one host. */
export interface Transport {
  /** The host's name in the spec, for messages. */
  readonly host: string;
  /** Runs `command` with `sh -c` semantics as root on the host; output as UTF-8 text. */
  exec(command: string, opts?: ExecOptions): Promise<ExecResult>;
  /** The same, with standard output as bytes. */
  execBytes(command: string, opts?: ExecOptions): Promise<BytesResult>;
  close(): Promise<void>;
}
