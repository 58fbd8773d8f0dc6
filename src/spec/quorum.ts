/** etcd quorum arithmetic: a cluster of n members needs a majority to make progress. */

/** Members, the majority they need, and how many may fail with the rest still a majority. */
export interface EtcdQuorum {
  readonly members: number;
  readonly quorum: number;
  readonly toleratesFailures: number;
}

/** Quorum figures for `members` etcd members (3 -> 2, tolerates 1; 4 -> 3, tolerates 1). */
export function etcdQuorum(members: number): EtcdQuorum {
  if (members <= 0) return { members: 0, quorum: 0, toleratesFailures: 0 };
  const quorum = Math.floor(members / 2) + 1;
  return { members, quorum, toleratesFailures: members - quorum };
}
