// Seed 000, the macvlan copy on the host (the host kernel has no ipvlan; the seed's ipvlan NAD as
// written runs in the VM guest, test/vm/multinet/seed000.test.ts). Everything else — the closed
// PostgreSQL, the two Deployments' pods, the checks — is the shared scenario in seed000.ts.
import { SEED000_NAD } from '../../fixtures/seeds/multinet.ts';
import { seed000Scenario } from './seed000.ts';

// the seed's NAD; only "ipvlan" → "macvlan"
const NAD = SEED000_NAD.replace('"type": "ipvlan"', '"type": "macvlan"');
if (NAD === SEED000_NAD) throw new Error('the seed 000 fixture no longer names the ipvlan plugin');

seed000Scenario('macvlan', NAD);
