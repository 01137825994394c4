import { registerDialer } from './dialer.js';
import { serialDialer } from './serial-dialer.js';
import { hybridVsockDialer, vsockDialer } from './vsock-dialers.js';

registerDialer('serial', serialDialer);
registerDialer('vsock', vsockDialer);
registerDialer('hvsock', hybridVsockDialer);

export { createDialer, registerDialer, splitPort, type AgentDialer } from './dialer.js';
