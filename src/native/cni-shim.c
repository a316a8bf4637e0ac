// ipvsnet CNI shim ("thick mode", as Multus has): a tiny executable the
// container runtime runs as ipvsnet-bridge / ipvsnet-ipam. It hands the CNI
// request (the CNI_* environment and stdin) to the running ipvsnet agent over
// a unix socket and relays the answer, so a pod operation costs no Node
// start-up. When the agent is not listening, it execs the standalone plugin
// (Node on the bundled plugin) with stdin untouched, so the plugin still works
// when the agent is down.
//
// Build (scripts/setup.d/10-native.sh):
//   gcc -O2 -DMODE='"bridge"' -DFALLBACK='"/path/to/node-launcher"' -DSOCKET='"/run/ipvsnet/cni.sock"'
// FALLBACK_ARGV (optional) is the whole argument vector of the fallback, its first element the
// program: `-DFALLBACK_ARGV='"/path/node","--flag","/path/loader.cjs","/path/bundle.cjs","bridge"'`
// execs Node on the plugin directly, without a launcher script in between. Without it the fallback
// is FALLBACK with no arguments (e.g. a single executable plugin).
// Wire format (all integers little-endian u32 unless noted):
//   request:  "IVN1" mode_len mode n_env { len "KEY=VALUE" }* stdin_len stdin
//   response: exit_code(i32) stdout_len stdout
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#ifndef MODE
#define MODE "bridge"
#endif
#ifndef FALLBACK
#define FALLBACK "/opt/ipvsnet/cni/node/ipvsnet-bridge"
#endif
#ifndef FALLBACK_ARGV
#define FALLBACK_ARGV FALLBACK
#endif
#ifndef SOCKET
#define SOCKET "/run/ipvsnet/cni.sock"
#endif

extern char **environ;

struct buf { char *p; size_t len, cap; };

static void put(struct buf *b, const void *d, size_t n) {
  if (b->len + n > b->cap) {
    size_t c = b->cap ? b->cap : 4096;
    while (c < b->len + n) c *= 2;
    char *np = realloc(b->p, c);
    if (!np) { perror("realloc"); exit(1); }
    b->p = np; b->cap = c;
  }
  memcpy(b->p + b->len, d, n);
  b->len += n;
}

static void put32(struct buf *b, uint32_t v) {
  unsigned char x[4] = { v & 0xff, (v >> 8) & 0xff, (v >> 16) & 0xff, (v >> 24) & 0xff };
  put(b, x, 4);
}

static void fail(int code, const char *msg) {
  // CNI error JSON on stdout; msg is a fixed ASCII string without quotes
  printf("{\"cniVersion\":\"1.1.0\",\"code\":%d,\"msg\":\"%s\"}\n", code, msg);
  fflush(stdout);
  exit(1);
}

static int readall(int fd, void *d, size_t n) {
  size_t off = 0;
  while (off < n) {
    ssize_t r = read(fd, (char *)d + off, n - off);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return -1;
    off += (size_t)r;
  }
  return 0;
}

int main(void) {
  const char *path = getenv("IPVSNET_CNI_SOCKET");
  if (!path || !*path) path = SOCKET;
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_un sa;
  memset(&sa, 0, sizeof sa);
  sa.sun_family = AF_UNIX;
  int ok = fd >= 0 && strlen(path) < sizeof sa.sun_path;
  if (ok) {
    memcpy(sa.sun_path, path, strlen(path));
    ok = connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0;
  }
  if (!ok) {
    // agent not there: the standalone plugin, same stdin, same environment
    if (fd >= 0) close(fd);
    static const char *const argv[] = { FALLBACK_ARGV, NULL };
    execv(argv[0], (char *const *)argv);
    fail(50, "ipvsnet: agent socket unavailable and the standalone plugin cannot be executed");
  }
  struct buf req = { 0 };
  put(&req, "IVN1", 4);
  put32(&req, (uint32_t)strlen(MODE));
  put(&req, MODE, strlen(MODE));
  uint32_t n = 0;
  for (char **e = environ; *e; e++) if (strncmp(*e, "CNI_", 4) == 0) n++;
  put32(&req, n);
  for (char **e = environ; *e; e++) {
    if (strncmp(*e, "CNI_", 4) != 0) continue;
    put32(&req, (uint32_t)strlen(*e));
    put(&req, *e, strlen(*e));
  }
  struct buf in = { 0 };
  char tmp[65536];
  for (;;) {
    ssize_t r = read(0, tmp, sizeof tmp);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    put(&in, tmp, (size_t)r);
  }
  put32(&req, (uint32_t)in.len);
  if (in.len) put(&req, in.p, in.len);
  size_t off = 0;
  while (off < req.len) {
    ssize_t w = write(fd, req.p + off, req.len - off);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) fail(11, "ipvsnet: lost the connection to the agent while sending the request; try again");
    off += (size_t)w;
  }
  shutdown(fd, SHUT_WR);
  unsigned char hdr[8];
  if (readall(fd, hdr, 8) != 0) fail(11, "ipvsnet: the agent closed the connection without an answer; try again");
  int32_t code = (int32_t)((uint32_t)hdr[0] | ((uint32_t)hdr[1] << 8) | ((uint32_t)hdr[2] << 16) | ((uint32_t)hdr[3] << 24));
  uint32_t len = (uint32_t)hdr[4] | ((uint32_t)hdr[5] << 8) | ((uint32_t)hdr[6] << 16) | ((uint32_t)hdr[7] << 24);
  char *out = malloc(len ? len : 1);
  if (!out || readall(fd, out, len) != 0) fail(11, "ipvsnet: truncated answer from the agent; try again");
  size_t w = 0;
  while (w < len) {
    ssize_t r = write(1, out + w, len - w);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    w += (size_t)r;
  }
  return code;
}
