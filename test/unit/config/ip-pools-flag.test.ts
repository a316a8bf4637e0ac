// --ip-pools: opt-in, off by default.
import { describe, expect, it } from 'vitest';
import { resolveAgentConfig } from '../../../src/config/index.ts';

describe('--ip-pools', () => {
  it('is off by default and on with the flag', () => {
    expect(resolveAgentConfig(['--hostname-override=n1'], {}).ipPools).toBe(false);
    expect(resolveAgentConfig(['--hostname-override=n1', '--ip-pools'], {}).ipPools).toBe(true);
    expect(resolveAgentConfig(['--hostname-override=n1', '--ip-pools=false'], {}).ipPools).toBe(false);
  });
});
