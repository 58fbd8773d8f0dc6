/** The commented example spec `kubeha init` writes: a 3-host stacked control plane with a VIP, two workers. */

/** The example text; `schemaRef` goes into the yaml-language-server line. */
export function exampleSpec(schemaRef: string): string {
  return `# yaml-language-server: $schema=${schemaRef}
# A kubeha cluster spec. Check it with: kubeha plan -f THIS_FILE
apiVersion: kubeha/v1alpha1
kind: Cluster
metadata:
  name: example            # DNS-1123 label; names the state directory (example.kubeha/)
spec:
  ssh:                     # defaults for every host; a host's own ssh: overrides them
    user: root
    port: 22
    keyPath: ~/.ssh/id_ed25519
  network:
    hostCidr: 192.168.61.0/24   # the L2 segment the hosts and the VIPs share
    podCidr: 10.42.0.0/16
    serviceCidr: 10.43.0.0/16   # its first address (10.43.0.1) goes into the apiserver certificate
  hosts:
    # Stacked etcd: each controlplane host is an etcd member too. Three members
    # keep quorum (2 of 3) when any one host fails.
    - { name: cp1, address: 192.168.61.11, roles: [controlplane, etcd] }
    - { name: cp2, address: 192.168.61.12, roles: [controlplane, etcd] }
    - { name: cp3, address: 192.168.61.13, roles: [controlplane, etcd] }
    - { name: w1, address: 192.168.61.21, roles: [worker] }
    - name: w2
      address: 192.168.61.22
      roles: [worker]
      labels: { disktype: ssd }
  controlPlane:
    endpoint:
      mode: vip                 # kubeha floats this address over the controlplane hosts
      vip: 192.168.61.100       # a free address inside hostCidr
      port: 6443
      dnsNames: [api.example.com]
      leaseTtlSeconds: 2        # the VIP holder's etcd lease; at least 1.5 x electionMs, rounded up
    # mode: external            # or your own L4 load balancer:
    # address: lb.example.com
    nodeLocalProxy: { port: 6443 }   # 127.0.0.1:6443 on every host without an apiserver
  etcd:
    heartbeatMs: 100
    electionMs: 1000            # at least 5 x heartbeatMs; 10 x is usual
    snapshots: { every: 12h, keep: 6 }   # scheduled on the first healthy member; enabled: false turns them off
  # ingress:                    # Traefik on the edge hosts; floating addresses over them
  #   vips: [192.168.61.200, 192.168.61.201]   # one per edge host: every edge serves
  #   ports: [80, 443]
  #   rebalance: { quietSeconds: 300 }        # off by default: each move resets that VIP's connections
  kubernetes:
    version: v1.34.2
    binaries: { source: download }   # or { source: dir, path: ./bundle } when air-gapped
`;
}
