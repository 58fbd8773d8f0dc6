/** Building shell commands for hosts: one quoting function, used for every value that goes into one. */

/** Quotes `s` for a POSIX shell. */
export function shq(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}
