// Removing the wrapper conflist (00-ipvsnet-multinet.conflist) when multi-network is off or ipvsnet is
// cleaned up: left behind, it would keep the runtime calling ipvsnet-multinet, which an agent without
// --multi-network refuses. Only a file whose plugin is ipvsnet-multinet is removed.
import { join } from 'node:path';
import { AtomicFiles } from '../kernel/file.ts';
import { MULTINET_TYPE } from './model/toplevel.ts';
import { MULTINET_CONFLIST_NAME } from './plan/conflist.ts';

export interface MultinetCleanup {
  path: string;
  action: 'removed' | 'absent' | 'kept (not ipvsnet-multinet)';
}

export function isMultinetConflist(text: string): boolean {
  try {
    const j = JSON.parse(text) as { plugins?: unknown };
    return Array.isArray(j.plugins) && j.plugins.some((p) => !!p && typeof p === 'object' && (p as { type?: unknown }).type === MULTINET_TYPE);
  } catch {
    return false;
  }
}

export async function cleanupMultinetConflist(confDir: string, files = new AtomicFiles()): Promise<MultinetCleanup> {
  const path = join(confDir, MULTINET_CONFLIST_NAME);
  const text = await files.read(path);
  if (text === undefined) return { path, action: 'absent' };
  if (!isMultinetConflist(text)) return { path, action: 'kept (not ipvsnet-multinet)' };
  await files.remove(path);
  return { path, action: 'removed' };
}
