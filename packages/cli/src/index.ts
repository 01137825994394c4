/** @mayu/cli: the `mayu` command. Its entry point is main.ts (bin/mayu.js). */
export { USAGE } from './usage.js';
