// Test hook: IPVSNET_TEST_CRASH_AT=<point> makes the plugin kill itself with
// SIGKILL at that point of ADD, so tests can prove a crash leaves nothing that
// GC does not reclaim. Points: after-bridge, after-ipam, after-veth, after-addr.
export function crashPoint(point: string): void {
  if (process.env['IPVSNET_TEST_CRASH_AT'] === point) process.kill(process.pid, 'SIGKILL');
}
