// Tiny N-API addon for ipvsnet: the system calls Node does not expose.
//
//   setns(fd, nstype)  – move the CALLING thread (Node's main thread) into the
//                        namespace referred to by fd (e.g. CLONE_NEWNET). A
//                        netlink socket created afterwards lives in that netns.
//   flock(fd, op)      – BSD advisory lock (LOCK_SH=1, LOCK_EX=2, LOCK_NB=4,
//                        LOCK_UN=8), the same lock the reference host-local
//                        plugin takes on <dataDir>/<network>/lock.
//   mallocTrim()       – glibc's malloc_trim(0): hand the C heap's free pages
//                        back to the kernel (after a large list is parsed and
//                        dropped they otherwise stay in the process's RSS).
//                        Returns whether memory was released.
//
//   nlOpen(protocol, rcvbuf, sndbuf) – a netlink socket (AF_NETLINK, SOCK_RAW,
//                        SOCK_CLOEXEC) of `protocol`, bound with a kernel-
//                        assigned port id, in the calling thread's network
//                        namespace; buffer sizes with SO_*BUFFORCE when allowed,
//                        else SO_*BUF (0 keeps the default). Returns the fd.
//   nlSetOption(fd, option, value) – setsockopt(fd, SOL_NETLINK, option, &value):
//                        an int option of a netlink socket (NETLINK_GET_STRICT_CHK,
//                        12, Linux >= 4.20). Throws the errno (ENOPROTOOPT: the
//                        kernel does not know the option).
//   nlSend(fd, buf)    – one datagram to the kernel (port 0). Returns bytes sent.
//   nlRecv(fd, ms)     – waits up to `ms` (poll) for a datagram, sizes it with
//                        MSG_PEEK|MSG_TRUNC and returns it whole as a Buffer;
//                        null when none came in time. Never blocks past `ms`.
//   nlClose(fd)        – close(2).
//   packetSend(ifindex, frame) – one whole Ethernet frame out of link `ifindex`
//                        (AF_PACKET, SOCK_RAW, opened, sendto, closed; in the
//                        calling thread's netns; a full queue is EAGAIN, never a
//                        wait). Gratuitous ARP and unsolicited NA are built in
//                        TypeScript (src/l2announce/frames.ts).
// The netlink calls are synchronous: the kernel answers rtnetlink, generic and
// netfilter netlink requests inside sendmsg, and builds a dump's next part
// inside recvmsg, so the replies are queued before nlRecv waits.
//
// Every call runs synchronously on the calling thread and throws an Error
// carrying `code` (errno name) and `errno` on failure.
#define _GNU_SOURCE
#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <sched.h>
#include <string.h>
#include <poll.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <linux/netlink.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <arpa/inet.h>
#include <node_api.h>

#ifndef SO_RCVBUFFORCE
#define SO_RCVBUFFORCE 33
#endif
#ifndef SO_SNDBUFFORCE
#define SO_SNDBUFFORCE 32
#endif

static napi_value throw_errno(napi_env env, const char *syscall, int err) {
  char msg[160];
  snprintf(msg, sizeof msg, "%s: %s", syscall, strerror(err));
  napi_value code, message, error, errnum;
  const char *name = err == EBADF ? "EBADF" : err == EINVAL ? "EINVAL" : err == EPERM ? "EPERM"
                   : err == EWOULDBLOCK ? "EWOULDBLOCK" : err == EINTR ? "EINTR" : err == ENOLCK ? "ENOLCK"
                   : err == ENOBUFS ? "ENOBUFS" : err == ENOMEM ? "ENOMEM" : err == EACCES ? "EACCES"
                   : err == EPROTONOSUPPORT ? "EPROTONOSUPPORT" : err == EAFNOSUPPORT ? "EAFNOSUPPORT"
                   : err == ECONNREFUSED ? "ECONNREFUSED" : err == EMSGSIZE ? "EMSGSIZE" : err == EMFILE ? "EMFILE"
                   : err == ENFILE ? "ENFILE" : err == ENOENT ? "ENOENT" : err == EIO ? "EIO"
                   : err == ENOPROTOOPT ? "ENOPROTOOPT" : "EUNKNOWN";
  napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &code);
  napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &message);
  napi_create_error(env, code, message, &error);
  napi_create_int32(env, err, &errnum);
  napi_set_named_property(env, error, "errno", errnum);
  napi_set_named_property(env, error, "code", code);
  napi_throw(env, error);
  return NULL;
}

static int two_ints(napi_env env, napi_callback_info info, int32_t *a, int32_t *b) {
  size_t argc = 2;
  napi_value argv[2];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 2) {
    napi_throw_type_error(env, NULL, "expected two integer arguments");
    return 0;
  }
  if (napi_get_value_int32(env, argv[0], a) != napi_ok || napi_get_value_int32(env, argv[1], b) != napi_ok) {
    napi_throw_type_error(env, NULL, "expected two integer arguments");
    return 0;
  }
  return 1;
}

static napi_value js_setns(napi_env env, napi_callback_info info) {
  int32_t fd, nstype;
  if (!two_ints(env, info, &fd, &nstype)) return NULL;
  if (setns(fd, nstype) != 0) return throw_errno(env, "setns", errno);
  return NULL;
}

static napi_value js_flock(napi_env env, napi_callback_info info) {
  int32_t fd, op;
  if (!two_ints(env, info, &fd, &op)) return NULL;
  int rc;
  do { rc = flock(fd, op); } while (rc != 0 && errno == EINTR);
  if (rc != 0) return throw_errno(env, "flock", errno);
  return NULL;
}

static napi_value js_malloc_trim(napi_env env, napi_callback_info info) {
  napi_value out;
  napi_get_boolean(env, malloc_trim(0) == 1, &out);
  return out;
}

/** The first n arguments into argv; the numbers among them into out[i] (Buffers are left to the caller). */
static int int_args(napi_env env, napi_callback_info info, size_t n, int32_t *out, napi_value *argv) {
  size_t argc = n;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < n) {
    napi_throw_type_error(env, NULL, "missing arguments");
    return 0;
  }
  for (size_t i = 0; i < n; i++) {
    napi_valuetype t;
    napi_typeof(env, argv[i], &t);
    if (t != napi_number) continue; // a Buffer argument
    if (napi_get_value_int32(env, argv[i], &out[i]) != napi_ok) {
      napi_throw_type_error(env, NULL, "expected an integer argument");
      return 0;
    }
  }
  return 1;
}

static void set_buf(int fd, int force, int plain, int size) {
  if (size <= 0) return;
  if (setsockopt(fd, SOL_SOCKET, force, &size, sizeof size) != 0) setsockopt(fd, SOL_SOCKET, plain, &size, sizeof size);
}

static napi_value js_nl_open(napi_env env, napi_callback_info info) {
  int32_t a[3] = { 0, 0, 0 };
  napi_value argv[3];
  if (!int_args(env, info, 3, a, argv)) return NULL;
  int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, a[0]);
  if (fd < 0) return throw_errno(env, "socket(AF_NETLINK)", errno);
  set_buf(fd, SO_RCVBUFFORCE, SO_RCVBUF, a[1]);
  set_buf(fd, SO_SNDBUFFORCE, SO_SNDBUF, a[2]);
  int one = 1;
  // Errors carry only the failed request's header, not its whole payload (best effort: Linux ≥ 4.3).
  setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof one);
  struct sockaddr_nl sa;
  memset(&sa, 0, sizeof sa);
  sa.nl_family = AF_NETLINK;
  if (bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
    int err = errno;
    close(fd);
    return throw_errno(env, "bind(AF_NETLINK)", err);
  }
  napi_value out;
  napi_create_int32(env, fd, &out);
  return out;
}

static napi_value js_nl_set_option(napi_env env, napi_callback_info info) {
  int32_t a[3] = { -1, 0, 0 };
  napi_value argv[3];
  if (!int_args(env, info, 3, a, argv)) return NULL;
  int value = a[2];
  if (setsockopt(a[0], SOL_NETLINK, a[1], &value, sizeof value) != 0) return throw_errno(env, "setsockopt(SOL_NETLINK)", errno);
  return NULL;
}

static napi_value js_nl_send(napi_env env, napi_callback_info info) {
  int32_t a[2] = { -1, 0 };
  napi_value argv[2];
  if (!int_args(env, info, 2, a, argv)) return NULL;
  void *data;
  size_t len;
  if (napi_get_buffer_info(env, argv[1], &data, &len) != napi_ok) {
    napi_throw_type_error(env, NULL, "nlSend: expected a Buffer");
    return NULL;
  }
  struct sockaddr_nl to;
  memset(&to, 0, sizeof to);
  to.nl_family = AF_NETLINK;
  ssize_t n;
  do { n = sendto(a[0], data, len, 0, (struct sockaddr *)&to, sizeof to); } while (n < 0 && errno == EINTR);
  if (n < 0) return throw_errno(env, "sendto(AF_NETLINK)", errno);
  napi_value out;
  napi_create_int64(env, n, &out);
  return out;
}

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static napi_value js_nl_recv(napi_env env, napi_callback_info info) {
  int32_t a[2] = { -1, 0 };
  napi_value argv[2];
  if (!int_args(env, info, 2, a, argv)) return NULL;
  int fd = a[0];
  int64_t deadline = now_ms() + (a[1] > 0 ? a[1] : 0);
  // A scratch buffer for the peek: the kernel sizes a dump's parts by the largest buffer a reader
  // has offered (up to 32 KiB), so offering 32 KiB keeps dumps in few datagrams.
  static char scratch[32768];
  for (;;) {
    // Peek first: the reply is usually queued already (the kernel answers inside sendmsg and builds
    // a dump's next part inside recvmsg), so poll only when nothing is.
    ssize_t size = recv(fd, scratch, sizeof scratch, MSG_PEEK | MSG_TRUNC | MSG_DONTWAIT);
    if (size < 0 && errno == EINTR) continue;
    if (size < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      struct pollfd p = { .fd = fd, .events = POLLIN, .revents = 0 };
      int64_t left = deadline - now_ms();
      if (left <= 0) {
        napi_value nul;
        napi_get_null(env, &nul);
        return nul;
      }
      int r = poll(&p, 1, (int)left);
      if (r < 0 && errno != EINTR) return throw_errno(env, "poll(AF_NETLINK)", errno);
      continue;
    }
    if (size < 0) return throw_errno(env, "recv(AF_NETLINK)", errno);
    void *data;
    napi_value buf;
    if (napi_create_buffer(env, size > 0 ? (size_t)size : 1, &data, &buf) != napi_ok) return throw_errno(env, "recv(AF_NETLINK)", ENOMEM);
    ssize_t n;
    do { n = recv(fd, data, (size_t)size, MSG_DONTWAIT); } while (n < 0 && errno == EINTR);
    if (n < 0) return throw_errno(env, "recv(AF_NETLINK)", errno);
    if (n != size) {
      // Only this thread reads the socket, so the datagram peeked is the one read.
      return throw_errno(env, "recv(AF_NETLINK): datagram changed between peek and read", EIO);
    }
    return buf;
  }
}

static napi_value js_nl_close(napi_env env, napi_callback_info info) {
  int32_t a[1] = { -1 };
  napi_value argv[1];
  if (!int_args(env, info, 1, a, argv)) return NULL;
  if (close(a[0]) != 0 && errno != EINTR) return throw_errno(env, "close", errno);
  return NULL;
}

static napi_value js_packet_send(napi_env env, napi_callback_info info) {
  int32_t a[2] = { 0, 0 };
  napi_value argv[2];
  if (!int_args(env, info, 2, a, argv)) return NULL;
  void *data;
  size_t len;
  if (napi_get_buffer_info(env, argv[1], &data, &len) != napi_ok || len < 14) {
    napi_throw_type_error(env, NULL, "packetSend: expected a Buffer holding an Ethernet frame");
    return NULL;
  }
  int fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return throw_errno(env, "socket(AF_PACKET)", errno);
  struct sockaddr_ll to;
  memset(&to, 0, sizeof to);
  to.sll_family = AF_PACKET;
  to.sll_ifindex = a[0];
  to.sll_halen = ETH_ALEN;
  memcpy(to.sll_addr, data, ETH_ALEN);
  memcpy(&to.sll_protocol, (char *)data + 12, 2);
  ssize_t n;
  do { n = sendto(fd, data, len, 0, (struct sockaddr *)&to, sizeof to); } while (n < 0 && errno == EINTR);
  int err = errno;
  close(fd);
  if (n < 0) return throw_errno(env, "sendto(AF_PACKET)", err);
  napi_value out;
  napi_create_int64(env, n, &out);
  return out;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
    { "setns", NULL, js_setns, NULL, NULL, NULL, napi_default, NULL },
    { "flock", NULL, js_flock, NULL, NULL, NULL, napi_default, NULL },
    { "mallocTrim", NULL, js_malloc_trim, NULL, NULL, NULL, napi_default, NULL },
    { "nlOpen", NULL, js_nl_open, NULL, NULL, NULL, napi_default, NULL },
    { "nlSetOption", NULL, js_nl_set_option, NULL, NULL, NULL, napi_default, NULL },
    { "nlSend", NULL, js_nl_send, NULL, NULL, NULL, napi_default, NULL },
    { "nlRecv", NULL, js_nl_recv, NULL, NULL, NULL, napi_default, NULL },
    { "nlClose", NULL, js_nl_close, NULL, NULL, NULL, napi_default, NULL },
    { "packetSend", NULL, js_packet_send, NULL, NULL, NULL, napi_default, NULL },
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
