// The IPVS contract (test/contract/ipvs.ts) against the in-memory fake; the VM lane runs the same
// contract against GenlIpvs on a real kernel (test/vm/ipvs/contract.test.ts).
import { MemoryIpvs } from '../../../src/kernel/ipvs/memory.ts';
import { ipvsContract } from '../../contract/ipvs.ts';

ipvsContract('MemoryIpvs', {
  open: async () => new MemoryIpvs(),
  cleanup: async () => { /* every instance starts empty */ },
});
