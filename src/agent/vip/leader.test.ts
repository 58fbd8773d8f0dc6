/** Leader avoidance on a clock the test moves: the timing is the subject, so no real waiting. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { LeaderAvoidance } from "./leader.js";

/** An etcd whose member leads when the test says, and a clock the test sets. */
function world(ownMember = true) {
  const w = { leads: true, at: 10_000, asked: 0 };
  const etcd = {
    isLeader: async () => {
      w.asked++;
      return w.leads;
    },
  };
  return { w, avoid: new LeaderAvoidance(etcd, ownMember, () => w.at) };
}

describe("leader avoidance", () => {
  it("leaves a vacant VIP to the others for 300 ms when its own member leads, then campaigns", async () => {
    const { w, avoid } = world();
    assert.equal(await avoid.yieldVacancy(), true, "first sight of the vacancy");
    w.at += 299;
    assert.equal(await avoid.yieldVacancy(), true, "still within 300 ms");
    w.at += 1;
    assert.equal(await avoid.yieldVacancy(), false, "nobody took it in 300 ms");
    avoid.held();
    w.at += 5_000;
    assert.equal(await avoid.yieldVacancy(), true, "a new vacancy starts a new yield");
  });

  it("does not yield when its member does not lead, or when it has no member of its own", async () => {
    const follower = world();
    follower.w.leads = false;
    assert.equal(await follower.avoid.yieldVacancy(), false);
    const memberless = world(false);
    assert.equal(await memberless.avoid.yieldVacancy(), false);
    assert.equal(await memberless.avoid.ledTooLong(), false);
    assert.equal(memberless.w.asked, 0, "without a member of its own it never asks etcd");
  });

  it("hands the VIP over after its member has led for 3 s, at most once a minute", async () => {
    const { w, avoid } = world();
    assert.equal(await avoid.ledTooLong(), false, "leading since now");
    w.at += 2_999;
    assert.equal(await avoid.ledTooLong(), false, "2.999 s");
    w.at += 1;
    assert.equal(await avoid.ledTooLong(), true, "3 s: hand over");
    // still the leader's host (say only it is healthy and took the VIP back): no flapping
    for (const step of [3_000, 20_000, 30_000]) {
      w.at += step;
      assert.equal(await avoid.ledTooLong(), false, `${step} ms later, within the minute`);
    }
    w.at += 7_000; // 60 s after the hand-over, leading for 57 s
    assert.equal(await avoid.ledTooLong(), true, "a minute on: hand over again");
  });

  it("starts counting again when its member stops leading", async () => {
    const { w, avoid } = world();
    await avoid.ledTooLong();
    w.at += 2_000;
    w.leads = false;
    assert.equal(await avoid.ledTooLong(), false);
    w.leads = true;
    w.at += 1_500;
    assert.equal(await avoid.ledTooLong(), false, "led 0 s since it became leader again");
    w.at += 3_000;
    assert.equal(await avoid.ledTooLong(), true);
  });
});
