/** kubeha's own name and version, read once from package.json. */
import { readFileSync } from "node:fs";

const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as {
  name: string;
  version: string;
};

/** The version users see in `kubeha --version`. */
export const version: string = pkg.version;

/** The repository root (where package.json lives), for bundled files such as schema/ and examples/. */
export const packageRoot: URL = new URL("../../", import.meta.url);
