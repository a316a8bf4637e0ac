// Tiny N-API addon for ipvsnet: the two system calls Node does not expose.
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
// setns and flock run synchronously on the calling thread and throw an Error
// carrying `code` (errno name) and `errno` on failure.
#define _GNU_SOURCE
#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <sched.h>
#include <string.h>
#include <sys/file.h>
#include <node_api.h>

static napi_value throw_errno(napi_env env, const char *syscall, int err) {
  char msg[160];
  snprintf(msg, sizeof msg, "%s: %s", syscall, strerror(err));
  napi_value code, message, error, errnum;
  const char *name = err == EBADF ? "EBADF" : err == EINVAL ? "EINVAL" : err == EPERM ? "EPERM"
                   : err == EWOULDBLOCK ? "EWOULDBLOCK" : err == EINTR ? "EINTR" : err == ENOLCK ? "ENOLCK" : "EUNKNOWN";
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

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
    { "setns", NULL, js_setns, NULL, NULL, NULL, napi_default, NULL },
    { "flock", NULL, js_flock, NULL, NULL, NULL, napi_default, NULL },
    { "mallocTrim", NULL, js_malloc_trim, NULL, NULL, NULL, napi_default, NULL },
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
