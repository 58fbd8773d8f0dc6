/**
 * The ingress controller on the edge hosts, and how its agent checks it.
 * Ports: the first of `ingress.ports` is plain HTTP (Traefik's `web`), the
 * second HTTPS (`websecure`), any further ones plain HTTP. Either controller
 * listens on every address of the edge (host network), so an ingress VIP
 * the agent adds is served at once, with no proxy between: the client's
 * address arrives as it is.
 *
 * In the lab (`kubernetes.binaries.source: standin`) the controller is real
 * nginx from Debian under kubeha's own unit, answering every request with
 * its host name and the client address it saw, and a ping on
 * 127.0.0.1:INGRESS_PING_PORT that turns 503 at the start of a stop: the unit
 * removes the ready file, keeps accepting for INGRESS_ACCEPT_GRACE_S (the
 * agent moves the VIPs meanwhile), then lets nginx finish gracefully (QUIT).
 * That is what Traefik does with `ping.terminatingStatusCode` and
 * `requestAcceptGraceTimeout` (addons/traefik.ts).
 */
import { INGRESS_DIR, INGRESS_NGINX_CONF, INGRESS_RUN_DIR } from "../core/host-paths.js";
import type { Cluster, Host } from "../spec/defaults.js";
import { INGRESS_ACCEPT_GRACE_S, INGRESS_CHECK } from "./timing.js";

/** The controller's ping (Traefik's `traefik` entrypoint), on loopback only. */
export const INGRESS_PING_PORT = 9000;
export const INGRESS_PING_URL = `http://127.0.0.1:${INGRESS_PING_PORT}/ping`;

/** The ingress ports with their kind: index 1 is HTTPS. */
export const ingressEntrypoints = (cluster: Cluster) =>
  (cluster.ingress?.ports ?? []).map((port, i) => ({
    name: i === 0 ? "web" : i === 1 ? "websecure" : `web${i}`,
    port,
    tls: i === 1,
  }));

/** How the agent checks the controller (agent/config.ts IngressSchema.controller). */
export const ingressControllerCheck = () => ({ url: INGRESS_PING_URL, ...INGRESS_CHECK });

const CERT = `${INGRESS_DIR}/default.crt`;
const KEY = `${INGRESS_DIR}/default.key`;

/** The lab controller's nginx.conf on `host`. */
export function renderIngressNginxConf(cluster: Cluster, host: Host): string {
  const listens = ingressEntrypoints(cluster)
    .map((e) => `    listen ${e.port}${e.tls ? " ssl" : ""} reuseport backlog=4096;`)
    .join("\n");
  return `# Written by kubeha; changes are overwritten by \`kubeha up\`.
# The lab's ingress controller on ${host.name}: real nginx standing in for Traefik
# (STAND-IN), on every address of the host, the ingress VIPs included.
user www-data;
worker_processes auto;
pid ${INGRESS_RUN_DIR}/nginx.pid;
error_log stderr warn;

events {
    worker_connections 8192;
}

http {
    access_log off;
    server_tokens off;
    keepalive_requests 100000;
    keepalive_timeout 75s;
    ssl_certificate ${CERT};
    ssl_certificate_key ${KEY};

    server {
${listens}
        default_type text/plain;
        # who answered, and the client address it saw (no proxy in between)
        location / {
            return 200 "$hostname $remote_addr\\n";
        }
    }

    # the ping the agent gates this edge's VIPs on: 503 from the start of a stop
    server {
        listen 127.0.0.1:${INGRESS_PING_PORT};
        default_type text/plain;
        location = /ping {
            if (!-f ${INGRESS_RUN_DIR}/ready) {
                return 503 "stopping\\n";
            }
            return 200 "OK\\n";
        }
    }
}
`;
}

/** The lab controller's unit. */
export function renderIngressUnit(): string {
  const run = INGRESS_RUN_DIR;
  return `# Written by kubeha; changes are overwritten by \`kubeha up\`.
[Unit]
Description=kubeha lab ingress controller: nginx standing in for Traefik (STAND-IN)
After=network-online.target
Wants=network-online.target

[Service]
RuntimeDirectory=kubeha-ingress
# a self-signed default certificate, as Traefik makes its own
ExecStartPre=/bin/sh -c 'test -s ${KEY} || openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 3650 -subj "/CN=kubeha lab ingress default certificate" -keyout ${KEY} -out ${CERT} 2>/dev/null; chmod 600 ${KEY}'
ExecStartPre=/usr/sbin/nginx -t -q -c ${INGRESS_NGINX_CONF}
ExecStart=/usr/sbin/nginx -c ${INGRESS_NGINX_CONF} -g 'daemon off;'
ExecStartPost=/bin/touch ${run}/ready
ExecReload=/usr/sbin/nginx -t -q -c ${INGRESS_NGINX_CONF}
ExecReload=/bin/kill -HUP $MAINPID
# unready first, keep accepting while the agent moves the VIPs, then finish gracefully
ExecStop=/bin/sh -c 'rm -f ${run}/ready; pid="\${MAINPID}"; [ -n "$pid" ] || exit 0; sleep ${INGRESS_ACCEPT_GRACE_S}; kill -QUIT "$pid"; while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done'
TimeoutStopSec=${INGRESS_ACCEPT_GRACE_S + 20}
Restart=always
RestartSec=1s
LimitNOFILE=65536

[Install]
WantedBy=multi-user.target
`;
}
