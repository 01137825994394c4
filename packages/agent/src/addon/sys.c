/*
 * The few Linux system calls the guest agent needs and Node lacks: mount,
 * umount2, sethostname and sync. Each throws an Error with `code` (the errno
 * name), `errno` and `syscall` on failure, like Node's own errors.
 */
#define _GNU_SOURCE
#define NAPI_VERSION 8
#include <errno.h>
#include <node_api.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>

static napi_value throw_errno(napi_env env, int err, const char *syscall, const char *what) {
  const char *name = strerrorname_np(err);
  char msg[512];
  snprintf(msg, sizeof msg, "%s %s: %s (%s)", syscall, what, name ? name : "EUNKNOWN", strerror(err));
  napi_value code, message, error, errno_value, syscall_value;
  napi_create_string_utf8(env, name ? name : "EUNKNOWN", NAPI_AUTO_LENGTH, &code);
  napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &message);
  napi_create_error(env, code, message, &error);
  napi_create_int32(env, -err, &errno_value);
  napi_create_string_utf8(env, syscall, NAPI_AUTO_LENGTH, &syscall_value);
  napi_set_named_property(env, error, "errno", errno_value);
  napi_set_named_property(env, error, "syscall", syscall_value);
  napi_throw(env, error);
  return NULL;
}

/* Copies a string argument (or NULL for null/undefined) into a malloc'd buffer. */
static int get_string(napi_env env, napi_value v, char **out) {
  napi_valuetype type;
  napi_typeof(env, v, &type);
  if (type == napi_null || type == napi_undefined) {
    *out = NULL;
    return 0;
  }
  size_t len;
  if (napi_get_value_string_utf8(env, v, NULL, 0, &len) != napi_ok) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "expected a string");
    return -1;
  }
  *out = malloc(len + 1);
  napi_get_value_string_utf8(env, v, *out, len + 1, &len);
  return 0;
}

/* mount(source, target, fstype, flags, data) */
static napi_value js_mount(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 5) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "mount(source, target, fstype, flags, data)");
    return NULL;
  }
  char *s[4] = {NULL, NULL, NULL, NULL};
  int idx[4] = {0, 1, 2, 4};
  napi_value result = NULL;
  uint32_t flags = 0;
  for (int i = 0; i < 4; i++)
    if (get_string(env, argv[idx[i]], &s[i])) goto out;
  if (napi_get_value_uint32(env, argv[3], &flags) != napi_ok) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "flags must be a number");
    goto out;
  }
  if (mount(s[0], s[1], s[2], flags, s[3]) != 0) throw_errno(env, errno, "mount", s[1] ? s[1] : "");
out:
  for (int i = 0; i < 4; i++) free(s[i]);
  return result;
}

/* umount(target, flags) */
static napi_value js_umount(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  char *target = NULL;
  uint32_t flags = 0;
  if (argc < 1 || get_string(env, argv[0], &target) || !target) return NULL;
  if (argc > 1) napi_get_value_uint32(env, argv[1], &flags);
  if (umount2(target, (int)flags) != 0) throw_errno(env, errno, "umount2", target);
  free(target);
  return NULL;
}

/* sethostname(name) */
static napi_value js_sethostname(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  char *name = NULL;
  if (argc < 1 || get_string(env, argv[0], &name) || !name) return NULL;
  if (sethostname(name, strlen(name)) != 0) throw_errno(env, errno, "sethostname", name);
  free(name);
  return NULL;
}

static napi_value js_sync(napi_env env, napi_callback_info info) {
  (void)env;
  (void)info;
  sync();
  return NULL;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"mount", NULL, js_mount, NULL, NULL, NULL, napi_enumerable, NULL},
      {"umount", NULL, js_umount, NULL, NULL, NULL, napi_enumerable, NULL},
      {"sethostname", NULL, js_sethostname, NULL, NULL, NULL, napi_enumerable, NULL},
      {"sync", NULL, js_sync, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
