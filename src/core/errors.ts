/**
 * The few error classes users can meet. Each has a stable `code`; one top-level
 * handler (src/cli/run.ts) maps them to exit codes and output. A user's own
 * mistake never shows a stack trace; an InternalError (a bug) always does.
 */

/** Exit codes, stable for scripts. */
export const ExitCode = {
  ok: 0,
  failure: 1,
  invalidInput: 2,
  internal: 70,
} as const;

/**
 * Every error code kubeha reports, declared once: scripts may match on them.
 * The first six belong to the error classes below; the rest name the
 * deliberate stops (ExpectedExit) and what they are about.
 */
export const ERROR_CODES = [
  "SPEC_INVALID",
  "USAGE",
  "HOST_FAILED",
  "HOSTS_FAILED",
  "REFUSED",
  "INTERNAL",
  // the state directory and the PKI
  "STATE_LOCKED",
  "CA_INCOMPLETE",
  "CA_INVALID",
  "SA_INCOMPLETE",
  "CERTS_NEED_ACTION",
  "NOT_BUILT",
  // binaries
  "DOWNLOAD_FAILED",
  "CHECKSUM_MISMATCH",
  // refusals of up
  "MEMBER_REMOVAL_REFUSED",
  "QUORUM_AT_RISK",
  // etcd snapshots and restore
  "SNAPSHOT_INVALID",
  "NO_PASSPHRASE",
  "QUORUM_HEALTHY",
  "PKI_MISMATCH",
  // local commands and the lab
  "COMMAND_FAILED",
  "NOT_ROOT",
  "NO_KERNEL_FEATURE",
  "HOST_DOWN",
  "HOST_UP",
  "LAB_EXISTS",
  "LAB_RANGE_TAKEN",
  "LAB_BOOT_FAILED",
  "LAB_BOOT_DEGRADED",
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

/** Base class: every error kubeha raises on purpose. */
export abstract class KubehaError extends Error {
  abstract readonly code: ErrorCode;
  abstract readonly exitCode: number;
  /** What the user should do next; printed after the message. */
  readonly hint: string | undefined;

  constructor(message: string, options: { cause?: unknown; hint?: string } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.hint = options.hint;
  }
}

/** A problem in a spec file, with where it is. */
export interface SpecIssue {
  readonly severity: "error" | "warning";
  /** Dotted path into the document, e.g. `spec.hosts[1].address`. */
  readonly path: string;
  readonly message: string;
  /** 1-based line and column in the source file, when known. */
  readonly line?: number;
  readonly col?: number;
}

/** `path (line:col): message`, the form every spec problem is shown in. */
export function formatIssue(issue: SpecIssue): string {
  const where = issue.line === undefined ? "" : ` (${issue.line}:${issue.col})`;
  const tag = issue.severity === "warning" ? "warning: " : "";
  return `${issue.path}${where}: ${tag}${issue.message}`;
}

/** Every problem found in a spec, reported together. */
export class SpecError extends KubehaError {
  readonly code = "SPEC_INVALID";
  readonly exitCode = ExitCode.invalidInput;
  readonly file: string;
  readonly issues: readonly SpecIssue[];

  constructor(file: string, issues: readonly SpecIssue[], hint?: string) {
    const errors = issues.filter((i) => i.severity === "error").length;
    super(`${file}: ${errors} problem${errors === 1 ? "" : "s"} in the spec`, {
      hint:
        hint ?? "fix the problems above and run the command again; `kubeha init` writes a commented example",
    });
    this.file = file;
    this.issues = issues;
  }
}

/** Wrong command-line usage or an input file that cannot be read. */
export class UsageError extends KubehaError {
  readonly code = "USAGE";
  readonly exitCode = ExitCode.invalidInput;
}

/**
 * A failure on one host during one phase. Code that runs a command on a host
 * does not know the phase and leaves it empty; the phase runner (and the
 * per-host helper) fill it in, so every report names host, phase and cause.
 */
export class HostError extends KubehaError {
  readonly code = "HOST_FAILED";
  readonly exitCode = ExitCode.failure;
  readonly host: string;
  readonly phase: string;
  /** The cause without the host name. */
  readonly detail: string;

  constructor(host: string, phase: string, detail: string, options: { cause?: unknown; hint?: string } = {}) {
    super(`${host}: ${detail}`, options);
    this.host = host;
    this.phase = phase;
    this.detail = detail;
  }

  /** This error with `phase` filled in, when it has none. */
  inPhase(phase: string): HostError {
    if (this.phase) return this;
    return new HostError(this.host, phase, this.detail, {
      ...(this.cause !== undefined && { cause: this.cause }),
      ...(this.hint && { hint: this.hint }),
    });
  }
}

/** Failures on several hosts, reported together: `failed on 2 hosts: cp1: …; cp3: …`. */
export class MultiHostError extends KubehaError {
  readonly code = "HOSTS_FAILED";
  readonly exitCode = ExitCode.failure;
  readonly failures: readonly HostError[];

  constructor(phase: string, failures: readonly HostError[]) {
    const n = failures.length;
    super(`${phase} failed on ${n} host${n === 1 ? "" : "s"}: ${failures.map((f) => f.message).join("; ")}`, {
      hint: failures.find((f) => f.hint)?.hint,
    });
    this.failures = failures;
  }
}

/** A deliberate stop that is not a bug (a refused destructive step, a failed check). */
export class ExpectedExit extends KubehaError {
  readonly code: ErrorCode;
  readonly exitCode: number;

  constructor(
    message: string,
    options: { code?: ErrorCode; exitCode?: number; hint?: string; cause?: unknown } = {},
  ) {
    super(message, options);
    this.code = options.code ?? "REFUSED";
    this.exitCode = options.exitCode ?? ExitCode.failure;
  }
}

/** A bug in kubeha: shown with its stack so it can be reported. */
export class InternalError extends KubehaError {
  readonly code = "INTERNAL";
  readonly exitCode = ExitCode.internal;
}
