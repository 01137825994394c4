import assert from 'node:assert/strict';
import { decideAccel, kvmVerdict, type KvmFacts } from '../../src/host/accel.js';
import { hostTscKhz, parseCpuInfo } from '../../src/host/cpu-info.js';

const facts = (over: { devKvmUsable?: boolean; flags?: string[]; modules?: string[] } = {}): KvmFacts => ({
  devKvmUsable: over.devKvmUsable ?? true,
  cpu: { flags: new Set(over.flags ?? ['vmx', 'constant_tsc']), mhzKhz: 2400000 },
  modules: new Set(over.modules ?? ['kvm_intel']),
});

describe('acceleration', () => {
  it('uses KVM with hardware virtualization', () => {
    assert.deepEqual(decideAccel('auto', facts()), { accel: 'kvm', reason: 'auto: hardware virtualization (vmx, kvm_intel)' });
    assert.equal(decideAccel('auto', facts({ flags: ['svm'], modules: ['kvm_amd'] })).accel, 'kvm');
  });

  it('settles on TCG for PVM and says why', () => {
    const d = decideAccel('auto', facts({ flags: [], modules: ['kvm_pvm'] }));
    assert.equal(d.accel, 'tcg');
    assert.match(d.reason, /PVM \(kvm_pvm\), a software hypervisor/);
  });

  it('settles on TCG without /dev/kvm, vmx/svm or the vendor module', () => {
    assert.match(kvmVerdict(facts({ devKvmUsable: false })).reason, /\/dev\/kvm is missing/);
    assert.match(kvmVerdict(facts({ flags: [] })).reason, /no vmx\/svm flag/);
    assert.match(kvmVerdict(facts({ modules: [] })).reason, /kvm_intel is not loaded/);
  });

  it('does as configured when kvm or tcg is explicit', () => {
    assert.equal(decideAccel('tcg', facts()).accel, 'tcg');
    assert.equal(decideAccel('kvm', facts({ modules: ['kvm_pvm'] })).accel, 'kvm');
  });

  it('reads the TSC rate only from a constant-TSC CPU', () => {
    const info = parseCpuInfo('processor\t: 0\ncpu MHz\t\t: 2445.434\nflags\t\t: fpu constant_tsc tsc_known_freq\n');
    assert.equal(hostTscKhz(info), 2445434);
    assert.equal(hostTscKhz(parseCpuInfo('cpu MHz\t\t: 2445.434\nflags\t\t: fpu\n')), null);
  });
});
