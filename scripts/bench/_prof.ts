import { Session } from 'node:inspector/promises';
import { writeFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { collectObjects, type LoadedManifests } from '../../src/model/load.ts';
import { buildPlan } from '../../src/plan/full.ts';
import { defaultNodeConfig } from '../../src/plan/config.ts';
const mod = await import('./plan.ts');
const state: LoadedManifests = { services: [], endpointSlices: [], nodes: [], diagnostics: [] };
collectObjects(mod.generate(10000, 100), state);
const cfg = defaultNodeConfig({ nodeName: 'node-0', clusterCIDRs: ['10.64.0.0/10'] });
buildPlan(state, cfg); buildPlan(state, cfg);
const s = new Session(); s.connect(); await s.post('Profiler.enable'); await s.post('Profiler.start');
for (let i = 0; i < 5; i++) { const t = performance.now(); buildPlan(state, cfg); console.log((performance.now() - t).toFixed(1)); }
const { profile } = await s.post('Profiler.stop');
const idx = new Map(profile.nodes.map((n: any) => [n.id, n]));
const cnt = new Map<number, number>(); for (const x of profile.samples!) cnt.set(x, (cnt.get(x) ?? 0) + 1);
const self = new Map<string, number>();
for (const [id, c] of cnt) { const n: any = idx.get(id); const k = n.callFrame.functionName + ' ' + n.callFrame.url.split('/').slice(-2).join('/') + ':' + n.callFrame.lineNumber; self.set(k, (self.get(k) ?? 0) + c); }
const tot = profile.samples!.length; [...self].sort((a, b) => b[1] - a[1]).slice(0, 25).forEach(([k, c]) => console.log((c / tot * 100).toFixed(1) + '%', k));
