import { defineConfig } from 'vitest/config';

// Test lanes. Each lane is a vitest project; scripts/test-all.sh runs them in order
// and fails loudly when a lane's prerequisites are missing.
//   unit   – pure code, no privileges
//   netns  – real host kernel inside network namespaces the tests create (root)
//   vm     – runs inside the qemu guest with Debian's kernel (IPVS, dummy, ipvlan)
//   cluster – against a real kube-apiserver + etcd started by scripts/cluster
//   node   – a real node (kubelet, containerd, controllers, ipvsnet agent) started by scripts/node/up.sh
export default defineConfig({
  test: {
    projects: [
      { test: { name: 'unit', include: ['test/unit/**/*.test.ts'], environment: 'node' } },
      { test: { name: 'netns', include: ['test/netns/**/*.test.ts'], environment: 'node', fileParallelism: false, testTimeout: 60_000, hookTimeout: 60_000 } },
      { test: { name: 'vm', include: ['test/vm/**/*.test.ts'], setupFiles: ['test/vm/lane/guard.ts'], environment: 'node', fileParallelism: false, testTimeout: 300_000, hookTimeout: 300_000 } },
      { test: { name: 'cluster', include: ['test/cluster/**/*.test.ts'], environment: 'node', fileParallelism: false, testTimeout: 300_000, hookTimeout: 300_000 } },
      { test: { name: 'node', include: ['test/node/**/*.test.ts'], environment: 'node', fileParallelism: false, testTimeout: 600_000, hookTimeout: 600_000 } },
    ],
  },
});
