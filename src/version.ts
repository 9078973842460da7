/** The gateway's version, reported as serverInfo to agents and clientInfo to upstreams. */
export const VERSION = '0.1.0';
