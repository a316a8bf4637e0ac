// The IPVS contract (test/contract/ipvs.ts) against GenlIpvs on the guest's kernel; the unit lane
// runs the same contract against the in-memory fake (test/unit/kernel/ipvs-memory.test.ts).
import { openIpvs } from '../../../src/kernel/ipvs/genl.ts';
import { ipvsContract } from '../../contract/ipvs.ts';
import { cleanupTestServices } from './helpers.ts';

ipvsContract('GenlIpvs (kernel)', {
  open: () => openIpvs(),
  cleanup: () => cleanupTestServices(),
});
