/** Options shared by several commands, so they read the same everywhere. */
import { Option } from "commander";

/** `-f, --file FILE`: the cluster spec. */
export const specOption = () => new Option("-f, --file <file>", "cluster spec (YAML)").makeOptionMandatory();

/** `-o, --output text|json`. */
export const outputOption = () =>
  new Option("-o, --output <format>", "output format").choices(["text", "json"]).default("text");
