// Guard for the VM lane: test/vm/** must run inside the qemu guest (scripts/vm/run.sh, via
// scripts/lanes/vm.sh), never on the host, whose kernel has no IPVS and no dummy links.
// Import it first in every test/vm file: `import '../lane/guard.ts';` — it throws at import time,
// so the whole file fails loudly (never skips) when run outside the guest.
import { existsSync } from 'node:fs';

export function assertInVmGuest(): void {
  if (!existsSync('/proc/net/ip_vs')) {
    throw new Error(
      'test/vm/** must run inside the ipvsnet VM (scripts/lanes/vm.sh or scripts/vm/run.sh -- vitest run --project vm): ' +
        '/proc/net/ip_vs is missing, so this is not the guest kernel with ip_vs loaded',
    );
  }
  if (process.env['IPVSNET_VM'] !== '1') {
    throw new Error('test/vm/** must run inside the ipvsnet VM: IPVSNET_VM=1 is not set (not started by scripts/vm/run.sh)');
  }
}

assertInVmGuest();
