import { hostTscKhz } from '../host/cpu-info.js';
import { CloudHypervisor } from './clh/clh-hypervisor.js';
import { QemuHypervisor } from './qemu/qemu-hypervisor.js';
import { registerHypervisor } from './registry.js';

registerHypervisor('qemu', (ctx) => new QemuHypervisor({ config: ctx.config.hypervisor.qemu, sandbox: ctx.config.sandbox, tscKhz: hostTscKhz(), log: ctx.log, onGuestLog: ctx.onGuestLog }));
registerHypervisor('clh', (ctx) => new CloudHypervisor({ config: ctx.config.hypervisor.clh, sandbox: ctx.config.sandbox, log: ctx.log, onGuestLog: ctx.onGuestLog }));

export { hypervisorFactory, registerHypervisor, registeredHypervisors } from './registry.js';
