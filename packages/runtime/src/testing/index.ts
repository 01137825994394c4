/**
 * @mayu/runtime/testing: doubles for tests of the host side — a hypervisor
 * with no VM, and a guest agent that answers (or floods, lies and stalls)
 * as a test says. Never imported by the runtime itself.
 */
export { FakeHypervisor, fakeHypervisors, fakeGuestImage } from './fake-hypervisor.js';
export { AgentFault, FakeAgent, honestAgent, stall, type Behaviour, type StreamBehaviour } from './fake-agent.js';
