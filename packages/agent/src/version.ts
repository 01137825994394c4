declare const __MAYU_AGENT_VERSION__: string | undefined;

/** The agent's version: stamped into the single executable at build time. */
export const AGENT_VERSION: string = typeof __MAYU_AGENT_VERSION__ === 'string' ? __MAYU_AGENT_VERSION__ : '0.0.0-dev';
