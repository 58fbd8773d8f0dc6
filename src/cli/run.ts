/**
 * The one top-level error handler: maps every error to output and an exit
 * code. Users never see a stack trace for their own mistakes; a bug says so
 * and shows the stack.
 */
import { CommanderError } from "commander";
import { ExitCode, formatIssue, KubehaError, SpecError } from "../core/errors.js";

/** Writes an error the way users should see it and returns the exit code. */
export function report(err: unknown, write: (s: string) => void = (s) => process.stderr.write(s)): number {
  if (err instanceof CommanderError) {
    // commander printed its own message (or the help) already
    return err.exitCode === 0 ? ExitCode.ok : ExitCode.invalidInput;
  }
  if (err instanceof KubehaError && err.code !== "INTERNAL") {
    let out = `error: ${err.message}\n`;
    if (err instanceof SpecError) out += err.issues.map((i) => `  ${formatIssue(i)}\n`).join("");
    if (err.hint) out += `hint: ${err.hint}\n`;
    write(out);
    return err.exitCode;
  }
  const stack = err instanceof Error ? (err.stack ?? err.message) : String(err);
  write(`internal error (a bug in kubeha, please report it with this output):\n${stack}\n`);
  return ExitCode.internal;
}

/** Runs `main` and exits with the code its outcome maps to. */
export async function runCli(main: () => Promise<void>): Promise<void> {
  try {
    await main();
  } catch (err) {
    process.exitCode = report(err);
  }
}
