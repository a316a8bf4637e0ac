import '../lane/guard.ts';
// Seed 000 as written, in the VM guest (ipvlan exists only in its kernel): the seed's ipvlan NAD
// (master ens6, host-local 192.168.100.132–145 in /var/myipam) unchanged, the two Deployments' pods,
// a real PostgreSQL (the host's binaries, read over 9p) in its own netns accepting only .132–.145.
// The scenario and its checks are shared with the host's macvlan copy
// (test/netns/multinet/seed000.ts); only the NAD differs.
import { vi } from 'vitest';
import { SEED000_NAD } from '../../fixtures/seeds/multinet.ts';
import { seed000Scenario } from '../../netns/multinet/seed000.ts';

// Bounds for an emulated (TCG) guest: initdb, PostgreSQL and every CNI call start processes.
vi.setConfig({ testTimeout: 900_000, hookTimeout: 600_000 });

seed000Scenario('ipvlan', SEED000_NAD);
