/** The ports the deployment opens, in one place (the security groups and the tests read them). */
export const PROTOCOL_PORT = 5000;
/** TLS listener (`--tls-port`, default 5443), for when the TLS issue lands; opened now so the rules stay put. */
export const TLS_PORT = 5443;
export const HTTP_PORT = 8080;
/** HAProxy's agent-check (`--agent-port`): each node answers a weight from its load, or `drain`. */
export const AGENT_PORT = 5555;
export const NATS_CLIENT_PORT = 4222;
export const NATS_CLUSTER_PORT = 6222;
export const POSTGRES_PORT = 5432;
export const SSH_PORT = 22;
