// The underlay the route tests' two "node" namespaces share: one veth pair, `ul0` in each, with the
// node's underlay address on a /24.
import { execa } from 'execa';
import { type Scratch, uniq } from '../cni/helpers.ts';

export async function joinUnderlay(s: Scratch, a: { ns: string; underlay: string }, b: { ns: string; underlay: string }): Promise<void> {
  const ua = uniq('ivu');
  const ub = uniq('ivu');
  await execa('ip', ['link', 'add', ua, 'type', 'veth', 'peer', 'name', ub]);
  s.link(ua);
  await execa('ip', ['link', 'set', ua, 'netns', a.ns, 'name', 'ul0']);
  await execa('ip', ['link', 'set', ub, 'netns', b.ns, 'name', 'ul0']);
  for (const n of [a, b]) {
    await execa('ip', ['-n', n.ns, 'addr', 'add', `${n.underlay}/24`, 'dev', 'ul0']);
    await execa('ip', ['-n', n.ns, 'link', 'set', 'ul0', 'up']);
  }
}
