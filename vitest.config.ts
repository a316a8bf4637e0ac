import { defineConfig } from 'vitest/config';

// Test lanes. Each lane is a vitest project; scripts/test-all.sh runs them in order
// and fails loudly when a lane's prerequisites are missing.
//   unit   – pure code, no privileges: test/unit/lane/pure.ts makes starting a process or loading
//            a native addon fail the test
//   conformance – kube-proxy's own IPVS proxier (Go, built once from the module proxy) vs the
//            planner on generated clusters (scripts/conformance)
//   netns  – real host kernel inside network namespaces the tests create (root); also every test
//            that starts a process (the CLI, child Node processes) or needs build/native or dist/
//   vm     – runs inside the qemu guest with Debian's kernel (IPVS, dummy, ipvlan)
//   cluster – against a real kube-apiserver + etcd started by scripts/cluster
//   node   – a real node (kubelet, containerd, controllers, ipvsnet agent) started by scripts/node/up.sh
//   node-multinet – the same node brought up again with multi-network on (scripts/lanes/node.sh's second phase)
//   node-pools – the same node brought up again with IP pools on (scripts/lanes/node.sh's third phase)
//   node-guest – the node inside the VM guest, next to real IPVS (scripts/lanes/node-guest.sh): test/node-guest/**
//            and the node files that hold on either node (agent-restart, etp-local)
export default defineConfig({
  test: {
    projects: [
      { test: { name: 'unit', include: ['test/unit/**/*.test.ts'], setupFiles: ['test/unit/lane/pure.ts'], environment: 'node' } },
      { test: { name: 'conformance', include: ['test/conformance/**/*.test.ts'], environment: 'node', fileParallelism: false, testTimeout: 1_800_000, hookTimeout: 1_800_000 } },
      { test: { name: 'netns', include: ['test/netns/**/*.test.ts'], environment: 'node', fileParallelism: false, testTimeout: 60_000, hookTimeout: 60_000 } },
      { test: { name: 'vm', include: ['test/vm/**/*.test.ts'], setupFiles: ['test/vm/lane/guard.ts'], environment: 'node', fileParallelism: false, testTimeout: 300_000, hookTimeout: 300_000 } },
      { test: { name: 'cluster', include: ['test/cluster/**/*.test.ts'], environment: 'node', fileParallelism: false, testTimeout: 300_000, hookTimeout: 300_000 } },
      { test: { name: 'node', include: ['test/node/**/*.test.ts'], environment: 'node', fileParallelism: false, testTimeout: 600_000, hookTimeout: 600_000 } },
      { test: { name: 'node-multinet', include: ['test/node-multinet/**/*.test.ts'], environment: 'node', fileParallelism: false, testTimeout: 600_000, hookTimeout: 600_000 } },
      { test: { name: 'node-pools', include: ['test/node-pools/**/*.test.ts'], environment: 'node', fileParallelism: false, testTimeout: 600_000, hookTimeout: 600_000 } },
      { test: { name: 'node-guest', include: ['test/node-guest/**/*.test.ts', 'test/node/agent-restart.test.ts', 'test/node/etp-local.test.ts'], environment: 'node', fileParallelism: false, testTimeout: 900_000, hookTimeout: 900_000 } },
    ],
  },
});
