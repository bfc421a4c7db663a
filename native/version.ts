/** The agent/app version reported in `hello`; kept in step with package.json by hand on release. */
export const AGENT_VERSION = '0.1.0';
