// The wrapper conflist is removed by cleanup (and by an agent without --multi-network) only when it is
// ipvsnet-multinet's; a foreign file of that name survives.
import { afterAll, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cleanupMultinetConflist, isMultinetConflist } from '../../../src/multinet/cleanup.ts';
import { wrapDefaultNetwork } from '../../../src/multinet/plan/conflist.ts';

const dir = mkdtempSync(join(tmpdir(), 'ivt-mnclean-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('cleanupMultinetConflist', () => {
  it('removes the wrapper it wrote, keeps a foreign file, and says when there is none', async () => {
    const path = join(dir, '00-ipvsnet-multinet.conflist');
    const wrapper = JSON.stringify(wrapDefaultNetwork({ cniVersion: '1.0.0', name: 'ipvsnet', plugins: [{ type: 'ipvsnet-bridge' }] }));
    expect(isMultinetConflist(wrapper)).toBe(true);
    writeFileSync(path, wrapper);
    expect(await cleanupMultinetConflist(dir)).toEqual({ path, action: 'removed' });
    expect(existsSync(path)).toBe(false);
    expect(await cleanupMultinetConflist(dir)).toEqual({ path, action: 'absent' });
    writeFileSync(path, JSON.stringify({ cniVersion: '1.0.0', name: 'other', plugins: [{ type: 'multus' }] }));
    expect(await cleanupMultinetConflist(dir)).toEqual({ path, action: 'kept (not ipvsnet-multinet)' });
    expect(existsSync(path)).toBe(true);
    writeFileSync(path, 'not json');
    expect((await cleanupMultinetConflist(dir)).action).toBe('kept (not ipvsnet-multinet)');
  });
});
