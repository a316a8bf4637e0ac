import { describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.ts';

describe('ipvsnet main', () => {
  it('rejects an unknown command with exit code 2', async () => {
    expect(await main(['frobnicate'])).toBe(2);
  });
  it('prints usage for --help with exit code 0', async () => {
    expect(await main(['--help'])).toBe(0);
  });
});
