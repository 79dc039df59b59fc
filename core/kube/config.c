// Kubernetes client configuration. See config.h.
#include "core/kube/config.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/util/log.h"
#include "core/util/yval.h"

#define MAX_FILE ((size_t)4 << 20)

void sl_kube_config_deinit(sl_kube_config_t *c) {
  if (!c) return;
  free(c->server);
  free(c->namespace);
  free(c->context);
  free(c->source);
  free(c->token);
  free(c->token_file);
  free(c->ca_file);
  free(c->ca_data);
  free(c->cert_file);
  free(c->cert_data);
  free(c->key_file);
  free(c->key_data);
  free(c->proxy);
  memset(c, 0, sizeof *c);
}

// Reads a whole small file. NULL with errno set on failure.
static char *slurp(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  char *buf = NULL;
  size_t n = 0, cap = 0;
  for (;;) {
    if (n + 4096 + 1 > cap) {
      cap = cap ? cap * 2 : 8192;
      if (cap > MAX_FILE + 1) {
        free(buf);
        fclose(f);
        errno = EFBIG;
        return NULL;
      }
      char *nb = realloc(buf, cap);
      if (!nb) {
        free(buf);
        fclose(f);
        errno = ENOMEM;
        return NULL;
      }
      buf = nb;
    }
    size_t got = fread(buf + n, 1, 4096, f);
    n += got;
    if (got < 4096) break;
  }
  int bad = ferror(f);
  fclose(f);
  if (bad) {
    free(buf);
    errno = EIO;
    return NULL;
  }
  buf[n] = '\0';
  if (len) *len = n;
  return buf;
}

static void trim(char *s) {
  size_t n = strlen(s);
  while (n && (s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == ' ' || s[n - 1] == '\t'))
    s[--n] = '\0';
}

static int b64v(int ch) {
  if (ch >= 'A' && ch <= 'Z') return ch - 'A';
  if (ch >= 'a' && ch <= 'z') return ch - 'a' + 26;
  if (ch >= '0' && ch <= '9') return ch - '0' + 52;
  if (ch == '+') return 62;
  if (ch == '/') return 63;
  return -1;
}

long sl_kube_base64_decode(const char *in, size_t len, char *out, size_t *bad) {
  unsigned acc = 0;
  int nbits = 0, quad = 0, pad = 0;
  long o = 0;
  for (size_t i = 0; i < len; i++) {
    int ch = (unsigned char)in[i];
    if (ch == ' ' || ch == '\n' || ch == '\r' || ch == '\t') continue;
    if (ch == '=') {
      // Padding only closes the last group: at most two, after at least two symbols.
      if (quad < 2 || pad >= 2) goto fail_at;
      pad++;
      quad++;
      if (quad == 4) quad = 0;
      continue;
    }
    int v = b64v(ch);
    if (v < 0 || pad) goto fail_at;
    acc = (acc << 6) | (unsigned)v;
    nbits += 6;
    quad = (quad + 1) % 4;
    if (nbits >= 8) {
      nbits -= 8;
      out[o++] = (char)((acc >> nbits) & 0xff);
    }
    continue;
  fail_at:
    if (bad) *bad = i;
    return -1;
  }
  if (quad != 0) {
    if (bad) *bad = len;
    return -1;
  }
  return o;
}

static int set_str(char **dst, const char *s, sl_err_t *err) {
  free(*dst);
  *dst = s ? strdup(s) : NULL;
  if (s && !*dst) return sl_err(err, SL_ENOMEM, "out of memory");
  return SL_OK;
}

static char *join_path(const char *dir, const char *p) {
  if (p[0] == '/' || !dir || !*dir) return strdup(p);
  size_t n = strlen(dir) + strlen(p) + 2;
  char *out = malloc(n);
  if (out) snprintf(out, n, "%s/%s", dir, p);
  return out;
}

// ---- in-cluster --------------------------------------------------------------------------------

static int read_token(sl_kube_config_t *c, sl_err_t *err) {
  size_t n;
  char *t = slurp(c->token_file, &n);
  if (!t)
    return sl_err(err, SL_EIO, "%s: cannot read token file %s: %s", c->source, c->token_file,
                  strerror(errno));
  trim(t);
  if (!*t) {
    free(t);
    return sl_err(err, SL_EINVAL, "%s: token file %s is empty", c->source, c->token_file);
  }
  free(c->token);
  c->token = t;
  return SL_OK;
}

int sl_kube_config_in_cluster(sl_kube_config_t *c, const sl_kube_incluster_t *o, sl_err_t *err) {
  memset(c, 0, sizeof *c);
  c->token_read_at = NAN;
  const char *dir = o && o->dir ? o->dir : SL_KUBE_SA_DIR;
  const char *host = o && o->host ? o->host : getenv("KUBERNETES_SERVICE_HOST");
  const char *port = o && o->port ? o->port : getenv("KUBERNETES_SERVICE_PORT");
  if (!host || !*host || !port || !*port)
    return sl_err(err, SL_ENOTFOUND,
                  "not running in a cluster: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT "
                  "must both be set");
  int rc = SL_ENOMEM;
  char buf[512];
  // An IPv6 literal needs brackets in a URL.
  snprintf(buf, sizeof buf, strchr(host, ':') ? "https://[%s]:%s" : "https://%s:%s", host, port);
  if (set_str(&c->server, buf, err) < 0 || set_str(&c->context, "in-cluster", err) < 0 ||
      set_str(&c->source, "in-cluster", err) < 0)
    goto fail;
  snprintf(buf, sizeof buf, "%s/token", dir);
  if (set_str(&c->token_file, buf, err) < 0) goto fail;
  if ((rc = read_token(c, err)) < 0) goto fail;
  snprintf(buf, sizeof buf, "%s/ca.crt", dir);
  struct stat st;
  if (stat(buf, &st) < 0) {
    rc = sl_err(err, SL_EIO, "in-cluster: cannot read CA %s: %s", buf, strerror(errno));
    goto fail;
  }
  if ((rc = set_str(&c->ca_file, buf, err)) < 0) goto fail;
  snprintf(buf, sizeof buf, "%s/namespace", dir);
  char *ns = slurp(buf, NULL);
  if (ns) trim(ns);
  if (!ns || !*ns) {
    free(ns);
    ns = strdup("default");
  }
  c->namespace = ns;
  if (!ns) goto fail;
  return SL_OK;
fail:
  if (rc == SL_ENOMEM) sl_err(err, rc, "out of memory");
  sl_kube_config_deinit(c);
  return rc;
}

// ---- kubeconfig --------------------------------------------------------------------------------

typedef struct {
  const sl_ydoc_t *d;
  const char *dir;
  sl_kube_config_t *c;
  sl_err_t *err;
} kc_t;

// Finds the entry named `name` in the list at root[list]; *path gets "list[i]".
static const sl_yval_t *find_named(kc_t *k, const char *list, const char *name, char *path,
                                   size_t pn) {
  const sl_yval_t *l = sl_y_get(k->d->root, list);
  if (!l || l->type != SL_Y_SEQ) return NULL;
  for (size_t i = 0; i < l->n; i++) {
    const sl_yval_t *e = l->items[i];
    const sl_yval_t *nm = sl_y_get(e, "name");
    if (nm && nm->type == SL_Y_SCALAR && !strcmp(nm->str, name)) {
      snprintf(path, pn, "%s[%zu]", list, i);
      return e;
    }
  }
  return NULL;
}

static void names_of(kc_t *k, const char *list, char *out, size_t n) {
  out[0] = '\0';
  const sl_yval_t *l = sl_y_get(k->d->root, list);
  size_t used = 0;
  for (size_t i = 0; l && l->type == SL_Y_SEQ && i < l->n; i++) {
    const sl_yval_t *nm = sl_y_get(l->items[i], "name");
    if (!nm || nm->type != SL_Y_SCALAR) continue;
    int w = snprintf(out + used, n - used, "%s%s", used ? ", " : "", nm->str);
    if (w < 0 || (size_t)w >= n - used) break;
    used += (size_t)w;
  }
  if (!used) snprintf(out, n, "none");
}

// A scalar string field; absent is fine (NULL). `required` makes absence an error at `parent`.
static int get_str(kc_t *k, const sl_yval_t *parent, const char *key, const char *path,
                   int required, char **out) {
  *out = NULL;
  const sl_yval_t *v = sl_y_get(parent, key);
  char fp[512];
  snprintf(fp, sizeof fp, "%s.%s", path, key);
  if (!v || v->type == SL_Y_NULL) {
    if (required) return sl_y_err(k->d, parent, k->err, "%s: missing", fp);
    return SL_OK;
  }
  int rc = sl_y_str(k->d, v, fp, out, k->err);
  if (rc == 0 && required && !**out) {
    free(*out);
    *out = NULL;
    return sl_y_err(k->d, v, k->err, "%s: empty", fp);
  }
  return rc;
}

// A file path field: resolved against the kubeconfig's directory and checked to be readable.
static int get_file(kc_t *k, const sl_yval_t *parent, const char *key, const char *path,
                    char **out) {
  char *raw;
  int rc = get_str(k, parent, key, path, 0, &raw);
  *out = NULL;
  if (rc < 0 || !raw) return rc;
  char *full = join_path(k->dir, raw);
  free(raw);
  if (!full) return sl_err(k->err, SL_ENOMEM, "out of memory");
  FILE *f = fopen(full, "rb");
  if (!f) {
    rc = sl_y_err(k->d, sl_y_get(parent, key), k->err, "%s.%s: cannot read %s: %s", path, key, full,
                  strerror(errno));
    free(full);
    return rc;
  }
  fclose(f);
  *out = full;
  return SL_OK;
}

// A base64 *-data field, decoded; `pem` requires the result to look like PEM.
static int get_data(kc_t *k, const sl_yval_t *parent, const char *key, const char *path, int pem,
                    char **out, size_t *len) {
  char *raw;
  int rc = get_str(k, parent, key, path, 0, &raw);
  *out = NULL;
  *len = 0;
  if (rc < 0 || !raw) return rc;
  const sl_yval_t *v = sl_y_get(parent, key);
  size_t n = strlen(raw), bad = 0;
  char *dec = malloc(n / 4 * 3 + 4);
  if (!dec) {
    free(raw);
    return sl_err(k->err, SL_ENOMEM, "out of memory");
  }
  long m = sl_kube_base64_decode(raw, n, dec, &bad);
  if (m < 0) {
    if (bad < n)
      rc = sl_y_err(k->d, v, k->err, "%s.%s: not valid base64 (character '%c' at offset %zu)", path,
                    key, raw[bad], bad);
    else
      rc = sl_y_err(k->d, v, k->err, "%s.%s: not valid base64 (truncated: %zu symbols)", path, key,
                    n);
    free(raw);
    free(dec);
    return rc;
  }
  free(raw);
  dec[m] = '\0';
  if (pem && !strstr(dec, "-----BEGIN ")) {
    free(dec);
    return sl_y_err(k->d, v, k->err, "%s.%s: decodes to something that is not PEM", path, key);
  }
  *out = dec;
  *len = (size_t)m;
  return SL_OK;
}

static int both(kc_t *k, const sl_yval_t *parent, const char *path, const char *a, const char *b) {
  if (sl_y_get(parent, a) && sl_y_get(parent, b))
    return sl_y_err(k->d, sl_y_get(parent, b), k->err, "%s: %s and %s are both set; keep one", path,
                    a, b);
  return SL_OK;
}

static int load_cluster(kc_t *k, const char *name, const sl_yval_t *at, const char *at_path) {
  char path[256];
  const sl_yval_t *e = find_named(k, "clusters", name, path, sizeof path);
  if (!e) {
    char have[512];
    names_of(k, "clusters", have, sizeof have);
    return sl_y_err(k->d, at, k->err, "%s: no cluster named '%s' (clusters: %s)", at_path, name,
                    have);
  }
  const sl_yval_t *cl = sl_y_get(e, "cluster");
  strncat(path, ".cluster", sizeof path - strlen(path) - 1);
  int rc;
  if ((rc = sl_y_expect(k->d, cl, SL_Y_MAP, path, k->err)) < 0) return rc;
  sl_kube_config_t *c = k->c;
  if ((rc = get_str(k, cl, "server", path, 1, &c->server)) < 0) return rc;
  if (strncmp(c->server, "https://", 8) && strncmp(c->server, "http://", 7))
    return sl_y_err(k->d, sl_y_get(cl, "server"), k->err,
                    "%s.server: '%s' is not an http(s):// URL", path, c->server);
  size_t scheme = strncmp(c->server, "https://", 8) ? 7 : 8;
  size_t sl = strlen(c->server);
  while (sl > scheme && c->server[sl - 1] == '/') c->server[--sl] = '\0';
  if (sl == scheme || c->server[scheme] == '/')
    return sl_y_err(k->d, sl_y_get(cl, "server"), k->err, "%s.server: '%s' has no host", path,
                    c->server);
  if ((rc = both(k, cl, path, "certificate-authority", "certificate-authority-data")) < 0)
    return rc;
  if ((rc = get_file(k, cl, "certificate-authority", path, &c->ca_file)) < 0) return rc;
  if ((rc = get_data(k, cl, "certificate-authority-data", path, 1, &c->ca_data, &c->ca_len)) < 0)
    return rc;
  const sl_yval_t *ins = sl_y_get(cl, "insecure-skip-tls-verify");
  if (ins) {
    char fp[300];
    snprintf(fp, sizeof fp, "%s.insecure-skip-tls-verify", path);
    if ((rc = sl_y_bool(k->d, ins, fp, &c->insecure, k->err)) < 0) return rc;
    if (c->insecure && (c->ca_file || c->ca_data))
      return sl_y_err(k->d, ins, k->err,
                      "%s: a certificate authority and insecure-skip-tls-verify together: "
                      "verification cannot be both on and off",
                      fp);
  }
  if ((rc = get_str(k, cl, "proxy-url", path, 0, &c->proxy)) < 0) return rc;
  if (sl_y_get(cl, "tls-server-name"))
    sl_warn("%s:%d: %s.tls-server-name is not supported and is ignored", k->d->file,
            sl_y_get(cl, "tls-server-name")->line, path);
  return SL_OK;
}

static int load_user(kc_t *k, const char *name, const sl_yval_t *at, const char *at_path) {
  char path[256];
  const sl_yval_t *e = find_named(k, "users", name, path, sizeof path);
  if (!e) {
    char have[512];
    names_of(k, "users", have, sizeof have);
    return sl_y_err(k->d, at, k->err, "%s: no user named '%s' (users: %s)", at_path, name, have);
  }
  const sl_yval_t *u = sl_y_get(e, "user");
  strncat(path, ".user", sizeof path - strlen(path) - 1);
  if (!u || u->type == SL_Y_NULL) return SL_OK; // a user with no credentials
  int rc;
  if ((rc = sl_y_expect(k->d, u, SL_Y_MAP, path, k->err)) < 0) return rc;
  static const char *const unsupported[] = {"exec", "auth-provider", "username", "password", "as",
                                            NULL};
  for (const char *const *f = unsupported; *f; f++)
    if (sl_y_get(u, *f))
      return sl_y_err(k->d, sl_y_get(u, *f), k->err,
                      "%s.%s: not supported by sluice; use token, tokenFile or a client "
                      "certificate",
                      path, *f);
  sl_kube_config_t *c = k->c;
  if ((rc = both(k, u, path, "token", "tokenFile")) < 0) return rc;
  if ((rc = both(k, u, path, "client-certificate", "client-certificate-data")) < 0) return rc;
  if ((rc = both(k, u, path, "client-key", "client-key-data")) < 0) return rc;
  if ((rc = get_str(k, u, "token", path, 0, &c->token)) < 0) return rc;
  if ((rc = get_file(k, u, "tokenFile", path, &c->token_file)) < 0) return rc;
  if (c->token_file && (rc = read_token(c, k->err)) < 0) return rc;
  if ((rc = get_file(k, u, "client-certificate", path, &c->cert_file)) < 0) return rc;
  if ((rc = get_data(k, u, "client-certificate-data", path, 1, &c->cert_data, &c->cert_len)) < 0)
    return rc;
  if ((rc = get_file(k, u, "client-key", path, &c->key_file)) < 0) return rc;
  if ((rc = get_data(k, u, "client-key-data", path, 1, &c->key_data, &c->key_len)) < 0) return rc;
  int has_cert = c->cert_file || c->cert_data, has_key = c->key_file || c->key_data;
  if (has_cert != has_key)
    return sl_y_err(k->d, u, k->err, "%s: a client %s without a client %s", path,
                    has_cert ? "certificate" : "key", has_cert ? "key" : "certificate");
  return SL_OK;
}

static int load_doc(sl_kube_config_t *c, const sl_ydoc_t *d, const char *dir, const char *context,
                    sl_err_t *err) {
  kc_t k = {d, dir, c, err};
  int rc;
  if (!d->root) return sl_err(err, SL_EINVAL, "%s: empty kubeconfig", d->file);
  if ((rc = sl_y_expect(d, d->root, SL_Y_MAP, "kubeconfig", err)) < 0) return rc;
  static const char *const lists[] = {"contexts", "clusters", "users"};
  for (int i = 0; i < 3; i++) {
    const sl_yval_t *l = sl_y_get(d->root, lists[i]);
    if (l && l->type != SL_Y_NULL && (rc = sl_y_expect(d, l, SL_Y_SEQ, lists[i], err)) < 0)
      return rc;
  }
  const sl_yval_t *cur = sl_y_get(d->root, "current-context");
  char *want = NULL;
  if (context) {
    want = strdup(context);
    if (!want) return sl_err(err, SL_ENOMEM, "out of memory");
  } else if (cur && cur->type == SL_Y_SCALAR && *cur->str) {
    if ((rc = sl_y_str(d, cur, "current-context", &want, err)) < 0) return rc;
  } else {
    return sl_y_err(d, cur, err, "current-context: not set, and no context was given");
  }
  char path[256];
  const sl_yval_t *e = find_named(&k, "contexts", want, path, sizeof path);
  if (!e) {
    char have[512];
    names_of(&k, "contexts", have, sizeof have);
    if (context)
      rc = sl_err(err, SL_ENOTFOUND, "%s: context '%s' (given) is not in contexts (contexts: %s)",
                  d->file, want, have);
    else
      rc = sl_y_err(d, cur, err, "current-context: no context named '%s' (contexts: %s)", want,
                    have);
    free(want);
    return rc;
  }
  c->context = want;
  const sl_yval_t *cx = sl_y_get(e, "context");
  strncat(path, ".context", sizeof path - strlen(path) - 1);
  if ((rc = sl_y_expect(d, cx, SL_Y_MAP, path, err)) < 0) return rc;
  char *cluster = NULL, *user = NULL;
  if ((rc = get_str(&k, cx, "cluster", path, 1, &cluster)) < 0) return rc;
  char fp[300];
  snprintf(fp, sizeof fp, "%s.cluster", path);
  rc = load_cluster(&k, cluster, sl_y_get(cx, "cluster"), fp);
  free(cluster);
  if (rc < 0) return rc;
  if ((rc = get_str(&k, cx, "user", path, 0, &user)) < 0) return rc;
  if (user) {
    snprintf(fp, sizeof fp, "%s.user", path);
    rc = load_user(&k, user, sl_y_get(cx, "user"), fp);
    free(user);
    if (rc < 0) return rc;
  }
  if ((rc = get_str(&k, cx, "namespace", path, 0, &c->namespace)) < 0) return rc;
  if (!c->namespace && !(c->namespace = strdup("default")))
    return sl_err(err, SL_ENOMEM, "out of memory");
  return SL_OK;
}

int sl_kube_config_load_buffer(sl_kube_config_t *c, const char *buf, size_t len, const char *name,
                               const char *dir, const char *context, sl_err_t *err) {
  memset(c, 0, sizeof *c);
  c->token_read_at = NAN;
  sl_ydoc_t d;
  int rc = sl_ydoc_load_buffer(&d, buf, len, name, err);
  if (rc < 0) return rc;
  if (!(c->source = strdup(name))) rc = sl_err(err, SL_ENOMEM, "out of memory");
  if (rc == 0) rc = load_doc(c, &d, dir, context, err);
  sl_ydoc_deinit(&d);
  if (rc < 0) sl_kube_config_deinit(c);
  return rc;
}

int sl_kube_config_load_file(sl_kube_config_t *c, const char *path, const char *context,
                             sl_err_t *err) {
  memset(c, 0, sizeof *c);
  size_t n;
  char *buf = slurp(path, &n);
  if (!buf) return sl_err(err, SL_EIO, "%s: cannot read kubeconfig: %s", path, strerror(errno));
  char *dir = strdup(path);
  if (!dir) {
    free(buf);
    return sl_err(err, SL_ENOMEM, "out of memory");
  }
  char *slash = strrchr(dir, '/');
  if (slash)
    *slash = '\0';
  else
    strcpy(dir, ".");
  if (slash == dir) strcpy(dir, "/");
  int rc = sl_kube_config_load_buffer(c, buf, n, path, dir, context, err);
  free(buf);
  free(dir);
  return rc;
}

int sl_kube_config_load(sl_kube_config_t *c, const char *kubeconfig, const char *context,
                        sl_err_t *err) {
  memset(c, 0, sizeof *c);
  if (kubeconfig && *kubeconfig) return sl_kube_config_load_file(c, kubeconfig, context, err);
  const char *env = getenv("KUBECONFIG");
  if (env && *env) {
    char first[4096];
    size_t i = 0;
    while (env[i] == ':') env++;
    for (; env[i] && env[i] != ':' && i + 1 < sizeof first; i++) first[i] = env[i];
    first[i] = '\0';
    if (first[0]) {
      if (strchr(env + i, ':') || env[i] == ':')
        sl_info("$KUBECONFIG lists several files; using the first, %s (merging is not "
                "implemented)",
                first);
      return sl_kube_config_load_file(c, first, context, err);
    }
  }
  const char *host = getenv("KUBERNETES_SERVICE_HOST");
  if (host && *host && !context) return sl_kube_config_in_cluster(c, NULL, err);
  const char *home = getenv("HOME");
  char path[4096];
  if (home && *home) {
    snprintf(path, sizeof path, "%s/.kube/config", home);
    struct stat st;
    if (stat(path, &st) == 0) return sl_kube_config_load_file(c, path, context, err);
  }
  return sl_err(err, SL_ENOTFOUND,
                "no Kubernetes configuration: no --kubeconfig, no $KUBECONFIG, not in a cluster "
                "(KUBERNETES_SERVICE_HOST unset) and no ~/.kube/config");
}

const char *sl_kube_config_token(sl_kube_config_t *c, double now, int force, sl_err_t *err) {
  if (!c->token_file) return c->token;
  if (isnan(c->token_read_at)) c->token_read_at = now; // read at load
  if (force || now - c->token_read_at >= SL_KUBE_TOKEN_REREAD_S) {
    c->token_read_at = now;
    if (read_token(c, err) < 0)
      sl_warn("%s (keeping the previous token)", err ? err->msg : "token re-read failed");
  }
  return c->token;
}
