// Where the API server is and how to authenticate to it: in-cluster (service-account token, CA
// and namespace under /var/run/secrets/kubernetes.io/serviceaccount, KUBERNETES_SERVICE_HOST and
// _PORT) or a kubeconfig (--kubeconfig, the first file of $KUBECONFIG, ~/.kube/config; the
// current or a named context; token, tokenFile, client certificate and key as files or base64
// data, certificate authority as a file or data, insecure-skip-tls-verify). Every bad input is
// an error naming the file, line and field. TLS verification is on unless the kubeconfig turns
// it off. Token files are re-read every minute, as client-go does for projected tokens.
#pragma once

#include <stddef.h>

#include "core/util/err.h"

#define SL_KUBE_SA_DIR         "/var/run/secrets/kubernetes.io/serviceaccount"
#define SL_KUBE_TOKEN_REREAD_S 60.0

typedef struct {
  char *server;    // "https://host:port" (no trailing slash)
  char *namespace; // the context's or the service account's namespace, else "default"
  char *context;   // the kubeconfig context used, or "in-cluster"
  char *source;    // the file it came from, or "in-cluster", for messages

  char *token;      // bearer token (from `token`, or the last read of token_file)
  char *token_file; // re-read every SL_KUBE_TOKEN_REREAD_S and on demand (a 401)
  double token_read_at;

  char *ca_file; // PEM files, or PEM bytes in memory (the *-data fields, decoded)
  char *ca_data;
  size_t ca_len;
  char *cert_file;
  char *cert_data;
  size_t cert_len;
  char *key_file;
  char *key_data;
  size_t key_len;
  int insecure; // insecure-skip-tls-verify: true in the kubeconfig, never by default
  char *proxy;  // proxy-url
} sl_kube_config_t;

// Overrides for tests; NULL fields take the defaults (SL_KUBE_SA_DIR, the environment).
typedef struct {
  const char *dir;
  const char *host;
  const char *port;
} sl_kube_incluster_t;

int sl_kube_config_in_cluster(sl_kube_config_t *c, const sl_kube_incluster_t *o, sl_err_t *err);
// A kubeconfig file; `context` NULL means its current-context. Relative paths inside it are
// resolved against its directory.
int sl_kube_config_load_file(sl_kube_config_t *c, const char *path, const char *context,
                             sl_err_t *err);
// The same from memory: `name` is used in messages, `dir` resolves relative paths (NULL: cwd).
int sl_kube_config_load_buffer(sl_kube_config_t *c, const char *buf, size_t len, const char *name,
                               const char *dir, const char *context, sl_err_t *err);
// What a controller does by default: `kubeconfig` when given, else the first file of
// $KUBECONFIG (merging several is not implemented: the first one is used, and a note logged),
// else in-cluster when KUBERNETES_SERVICE_HOST is set, else ~/.kube/config.
int sl_kube_config_load(sl_kube_config_t *c, const char *kubeconfig, const char *context,
                        sl_err_t *err);
void sl_kube_config_deinit(sl_kube_config_t *c);

// The bearer token to send at monotonic time `now`: the static token, or token_file re-read
// when the last read is SL_KUBE_TOKEN_REREAD_S old or `force` is set. A failed re-read keeps the
// last good token (and fills err). NULL when there is no token auth.
const char *sl_kube_config_token(sl_kube_config_t *c, double now, int force, sl_err_t *err);

// Standard base64 (whitespace ignored, padding required). Returns the decoded length or -1 with
// `*bad` set to the offset of the first offending character. out needs (len / 4) * 3 + 3 bytes.
long sl_kube_base64_decode(const char *in, size_t len, char *out, size_t *bad);
