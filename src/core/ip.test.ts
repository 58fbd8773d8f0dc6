import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { cidrAddress, cidrContains, cidrsOverlap, parseCidr, parseIp } from "./ip.js";

const cidr = (s: string) => {
  const c = parseCidr(s);
  assert.ok(c, `${s} should parse`);
  return c;
};
const ip = (s: string) => {
  const i = parseIp(s);
  assert.ok(i, `${s} should parse`);
  return i;
};

describe("ip", () => {
  it("parses addresses and refuses non-addresses", () => {
    assert.equal(ip("192.168.61.11").value, 0xc0a83d0bn);
    assert.equal(ip("fd00::1").value, (0xfd00n << 112n) | 1n);
    for (const bad of ["", "1.2.3", "256.1.1.1", "a.b.c.d", "1.2.3.4/24", "cp1"]) {
      assert.equal(parseIp(bad), undefined, bad);
    }
  });

  it("parses ranges, refusing host bits and bad prefixes", () => {
    assert.deepEqual(cidr("10.42.0.0/16"), { version: 4, base: 0x0a2a0000n, prefix: 16 });
    for (const bad of ["10.42.0.1/16", "10.0.0.0/33", "10.0.0.0", "10.0.0.0/x", "fd00::1/64"]) {
      assert.equal(parseCidr(bad), undefined, bad);
    }
  });

  it("tells containment and overlap", () => {
    assert.ok(cidrContains(cidr("192.168.61.0/24"), ip("192.168.61.100")));
    assert.ok(!cidrContains(cidr("192.168.61.0/24"), ip("192.168.62.1")));
    assert.ok(!cidrContains(cidr("192.168.61.0/24"), ip("fd00::1")));
    assert.ok(cidrsOverlap(cidr("10.0.0.0/8"), cidr("10.42.0.0/16")));
    assert.ok(cidrsOverlap(cidr("10.42.0.0/16"), cidr("10.0.0.0/8")));
    assert.ok(!cidrsOverlap(cidr("10.42.0.0/16"), cidr("10.43.0.0/16")));
    assert.ok(cidrContains(cidr("0.0.0.0/0"), ip("8.8.8.8")));
  });

  it("computes the n-th address of a range", () => {
    assert.equal(cidrAddress(cidr("10.43.0.0/16"), 1), "10.43.0.1");
    assert.equal(cidrAddress(cidr("fd00::/64"), 1), "fd00:0:0:0:0:0:0:1");
  });
});
