/**
 * @peculiar/x509, set up: it needs the reflect-metadata polyfill loaded
 * before it and a WebCrypto provider. Import X.509 from here, never directly,
 * so import ordering can never break it.
 */
import "reflect-metadata";
import { webcrypto } from "node:crypto";
import * as x509 from "@peculiar/x509";

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[1]);

export { x509 };
