// The conformance lane: generated clusters through kube-proxy v1.37.2's own IPVS proxier (built by
// scripts/conformance/build-harness.sh, run against the fake kernel interfaces kubernetes ships for
// its tests) and through ipvsnet's planner; the kernel states must be equal, modulo the
// normalisations named in scripts/conformance/canonical.ts and docs/kube-proxy-differences.md.
//
//   IPVSNET_CONFORMANCE_CLUSTERS (default 400)  IPVSNET_CONFORMANCE_SEED (first seed, default 1)
// Many more: npm run bench:conformance. One seed: node scripts/conformance/run.ts --seed S --clusters 1

import { beforeAll, describe, expect, it } from 'vitest';
import { formatMismatch, harnessBinary, harnessRaces, runConformance } from '../../scripts/conformance/run.ts';
import { canonicalFromPlan, type Canonical } from '../../scripts/conformance/canonical.ts';
import { planCluster } from '../../scripts/conformance/ipvsnet-side.ts';

const CLUSTERS = Number(process.env.IPVSNET_CONFORMANCE_CLUSTERS ?? 400);
const FIRST_SEED = Number(process.env.IPVSNET_CONFORMANCE_SEED ?? 1);

let harness = '';
beforeAll(async () => {
  // Cached by scripts/setup.d/25-conformance.sh; built here (minutes) when it is not.
  harness = await harnessBinary();
}, 1_800_000);

describe('kube-proxy v1.37.2 IPVS proxier vs ipvsnet planner', () => {
  it(`${CLUSTERS} generated clusters (seeds ${FIRST_SEED}..${FIRST_SEED + CLUSTERS - 1}) program the same kernel state`, async () => {
    const r = await runConformance({ firstSeed: FIRST_SEED, clusters: CLUSTERS, harness });
    console.log(`conformance: ${r.compared} clusters compared, ${r.matched} matched; kube-proxy side: ${r.totals.virtualServers} virtual servers, ${r.totals.realServers} real servers, ${r.totals.setMembers} set members, ${r.totals.rules} rules; ${r.seconds.toFixed(1)} s`);
    expect(r.compared).toBe(CLUSTERS);
    // The clusters are not trivially empty: the comparison covered real state.
    expect(r.totals.virtualServers).toBeGreaterThan(CLUSTERS);
    expect(r.totals.realServers).toBeGreaterThan(CLUSTERS);
    const report = r.mismatches.slice(0, 5).map((m) => formatMismatch(m)).join('\n');
    expect(r.mismatches.map((m) => m.seed), `mismatching seeds (first five shown):\n${report}`).toEqual([]);
  });

  it('kube-proxy gives one answer per cluster: two runs agree (no slice-order race let through)', async () => {
    expect(await harnessRaces({ firstSeed: FIRST_SEED, clusters: CLUSTERS, harness })).toEqual([]);
  });

  it('a difference on ipvsnet\'s side fails the comparison (the lane can fail)', async () => {
    // Drop the last real server of the first virtual server that has one, on every cluster.
    let perturbed = 0;
    const r = await runConformance({
      firstSeed: FIRST_SEED,
      clusters: 40,
      harness,
      ours: (c) => {
        const canon: Canonical = canonicalFromPlan(planCluster(c));
        for (const fam of ['IPv4', 'IPv6'] as const) {
          const vss = canon.families[fam].virtualServers;
          const i = vss.findIndex((v) => / w1$/.test(v));
          if (i >= 0) {
            vss[i] = vss[i]!.replace(/(, )?[^ ,]+ w1$/, '');
            perturbed++;
            break;
          }
        }
        return canon;
      },
    });
    expect(perturbed).toBeGreaterThan(10);
    expect(r.mismatches.length).toBe(perturbed);
    expect(r.mismatches[0]!.diff.join('\n')).toMatch(/virtual servers: [-+] /);
  });
});
