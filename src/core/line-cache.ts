/**
 * A small cache kept in a file, one "KEY<TAB>VALUE" per line, for what is
 * costly to learn again and safe to forget (digests of local files, verdicts
 * on certificates). It keeps only the entries the last run used, so it never
 * grows past what one run needs; without a file it lasts as long as the object.
 */
import { readIfExists, writeFileAtomic } from "./files.js";

export class LineCache {
  private readonly loaded = new Map<string, string>();
  private readonly used = new Map<string, string>();

  constructor(private readonly file?: string) {
    for (const line of (file ? (readIfExists(file) ?? "") : "").split("\n")) {
      const tab = line.indexOf("\t");
      if (tab > 0) this.loaded.set(line.slice(0, tab), line.slice(tab + 1));
    }
  }

  get(key: string): string | undefined {
    const value = this.used.get(key) ?? this.loaded.get(key);
    if (value !== undefined) this.used.set(key, value);
    return value;
  }

  set(key: string, value: string): void {
    this.used.set(key, value);
  }

  /** Writes the entries this run used, when they differ from what was loaded. */
  save(): void {
    if (!this.file) return;
    const same =
      this.used.size === this.loaded.size && [...this.used].every(([k, v]) => this.loaded.get(k) === v);
    if (same) return;
    writeFileAtomic(this.file, [...this.used].map(([k, v]) => `${k}\t${v}\n`).join(""), 0o600);
    this.loaded.clear();
    for (const [k, v] of this.used) this.loaded.set(k, v);
  }
}
