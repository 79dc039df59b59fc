// Kubernetes client configuration: every kubeconfig auth form (token, tokenFile, client
// certificate and key as data or files, CA as data or file, insecure-skip-tls-verify), context
// selection, the token re-read schedule, in-cluster discovery, and an error naming file, line and
// field for each bad input.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/kube/config.h"
#include "tests/unit/tap.h"

static char dir[64];

static void b64(const char *in, char *out) {
  static const char t[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  size_t n = strlen(in), o = 0;
  for (size_t i = 0; i < n; i += 3) {
    unsigned v = (unsigned char)in[i] << 16;
    if (i + 1 < n) v |= (unsigned char)in[i + 1] << 8;
    if (i + 2 < n) v |= (unsigned char)in[i + 2];
    out[o++] = t[(v >> 18) & 63];
    out[o++] = t[(v >> 12) & 63];
    out[o++] = i + 1 < n ? t[(v >> 6) & 63] : '=';
    out[o++] = i + 2 < n ? t[v & 63] : '=';
  }
  out[o] = '\0';
}

static void write_file(const char *name, const char *text) {
  char p[256];
  snprintf(p, sizeof p, "%s/%s", dir, name);
  FILE *f = fopen(p, "w");
  fputs(text, f);
  fclose(f);
}

static const char *PEM_CA = "-----BEGIN CERTIFICATE-----\nMIIBfake\n-----END CERTIFICATE-----\n";
static const char *PEM_KEY = "-----BEGIN PRIVATE KEY-----\nMIIBkey\n-----END PRIVATE KEY-----\n";

static int load(sl_kube_config_t *c, const char *yaml, const char *ctx, sl_err_t *err) {
  write_file("kc.yaml", yaml);
  char p[256];
  snprintf(p, sizeof p, "%s/kc.yaml", dir);
  return sl_kube_config_load_file(c, p, ctx, err);
}

static void test_forms(void) {
  char ca64[512], key64[512], yaml[4096];
  b64(PEM_CA, ca64);
  b64(PEM_KEY, key64);
  sl_err_t err = {0};
  sl_kube_config_t c;

  snprintf(yaml, sizeof yaml,
           "apiVersion: v1\nkind: Config\ncurrent-context: tok\n"
           "contexts:\n"
           "- name: tok\n  context: {cluster: c1, user: u-token, namespace: llm}\n"
           "- name: cert\n  context: {cluster: c2, user: u-cert}\n"
           "- name: file\n  context: {cluster: c3, user: u-file}\n"
           "- name: anon\n  context: {cluster: c1}\n"
           "clusters:\n"
           "- name: c1\n  cluster:\n    server: https://10.0.0.1:6443/\n"
           "    certificate-authority-data: %s\n"
           "- name: c2\n  cluster:\n    server: https://k.example:443\n"
           "    insecure-skip-tls-verify: true\n"
           "- name: c3\n  cluster:\n    server: https://k3:6443\n"
           "    certificate-authority: ca.pem\n"
           "users:\n"
           "- name: u-token\n  user:\n    token: abc.def\n"
           "- name: u-cert\n  user:\n    client-certificate-data: %s\n"
           "    client-key-data: %s\n"
           "- name: u-file\n  user:\n    tokenFile: tok.txt\n    client-certificate: cli.pem\n"
           "    client-key: cli.key\n",
           ca64, ca64, key64);
  write_file("ca.pem", PEM_CA);
  write_file("cli.pem", PEM_CA);
  write_file("cli.key", PEM_KEY);
  write_file("tok.txt", "from-file-1\n");

  int rc = load(&c, yaml, NULL, &err);
  T_OK(rc == 0, "token form loads (%s)", err.msg);
  T_OK(c.server && !strcmp(c.server, "https://10.0.0.1:6443"), "server, trailing slash dropped");
  T_OK(c.namespace && !strcmp(c.namespace, "llm"), "context namespace");
  T_OK(c.context && !strcmp(c.context, "tok"), "current-context used");
  T_OK(c.token && !strcmp(c.token, "abc.def"), "bearer token");
  T_OK(c.ca_data && c.ca_len == strlen(PEM_CA) && !memcmp(c.ca_data, PEM_CA, c.ca_len),
       "certificate-authority-data decoded");
  T_EQ_INT(c.insecure, 0, "TLS verification on by default");
  T_OK(sl_kube_config_token(&c, 1000, 0, &err) == c.token, "static token returned");
  sl_kube_config_deinit(&c);

  rc = load(&c, yaml, "cert", &err);
  T_OK(rc == 0, "client-certificate-data form loads (%s)", err.msg);
  T_OK(c.cert_data && !memcmp(c.cert_data, PEM_CA, c.cert_len), "client cert data decoded");
  T_OK(c.key_data && !memcmp(c.key_data, PEM_KEY, c.key_len), "client key data decoded");
  T_EQ_INT(c.insecure, 1, "insecure-skip-tls-verify honoured when the kubeconfig says so");
  T_OK(c.token == NULL, "no token for a cert user");
  T_OK(!strcmp(c.namespace, "default"), "namespace defaults to 'default'");
  sl_kube_config_deinit(&c);

  rc = load(&c, yaml, "file", &err);
  T_OK(rc == 0, "file form loads (%s)", err.msg);
  char want[256];
  snprintf(want, sizeof want, "%s/ca.pem", dir);
  T_OK(c.ca_file && !strcmp(c.ca_file, want), "CA file resolved against the kubeconfig's dir");
  snprintf(want, sizeof want, "%s/cli.key", dir);
  T_OK(c.key_file && !strcmp(c.key_file, want), "client key file resolved");
  T_OK(c.token && !strcmp(c.token, "from-file-1"), "tokenFile read and trimmed");
  write_file("tok.txt", "from-file-2\n");
  T_OK(!strcmp(sl_kube_config_token(&c, 100, 0, &err), "from-file-1"), "first use: as loaded");
  T_OK(!strcmp(sl_kube_config_token(&c, 159, 0, &err), "from-file-1"), "not re-read within 60 s");
  T_OK(!strcmp(sl_kube_config_token(&c, 160, 0, &err), "from-file-2"), "re-read after 60 s");
  write_file("tok.txt", "from-file-3\n");
  T_OK(!strcmp(sl_kube_config_token(&c, 161, 1, &err), "from-file-3"), "forced re-read (401)");
  snprintf(want, sizeof want, "%s/tok.txt", dir);
  unlink(want);
  T_OK(!strcmp(sl_kube_config_token(&c, 300, 0, &err), "from-file-3"),
       "a failed re-read keeps the last good token");
  T_STR_HAS(err.msg, "tok.txt", "and says which file failed");
  sl_kube_config_deinit(&c);
  write_file("tok.txt", "from-file-1\n");

  rc = load(&c, yaml, "anon", &err);
  T_OK(rc == 0 && !c.token && !c.cert_data && !c.cert_file, "a context without a user: no auth");
  sl_kube_config_deinit(&c);
}

// Loads `yaml`, expects failure, and checks the message contains each of the needles.
static void bad(const char *what, const char *yaml, const char *ctx, const char *n1,
                const char *n2) {
  sl_err_t err = {0};
  sl_kube_config_t c;
  int rc = load(&c, yaml, ctx, &err);
  T_OK(rc < 0, "%s: refused", what);
  char file[256];
  snprintf(file, sizeof file, "%s/kc.yaml", dir);
  T_STR_HAS(err.msg, file, what);
  if (n1) T_STR_HAS(err.msg, n1, what);
  if (n2) T_STR_HAS(err.msg, n2, what);
  if (rc == 0) sl_kube_config_deinit(&c);
}

#define HEAD                                                                                       \
  "current-context: a\ncontexts:\n- name: a\n  context: {cluster: c, user: u}\n"                   \
  "clusters:\n- name: c\n  cluster:\n    server: https://x:1\n"

static void test_errors(void) {
  bad("missing current context", HEAD "users:\n- name: u\n  user: {token: t}\n", "nope",
      "context 'nope'", "contexts: a");
  bad("current-context names nothing",
      "current-context: zz\ncontexts:\n- name: a\n  context: {cluster: c}\n", NULL,
      "kc.yaml:1: current-context: no context named 'zz'", "contexts: a");
  bad("no current-context", "contexts: []\n", NULL, "current-context", "not set");
  bad("bad base64",
      HEAD "    certificate-authority-data: 'QUJD!ZGVm'\nusers:\n- name: u\n  user: {token: t}\n",
      NULL, "kc.yaml:9: clusters[0].cluster.certificate-authority-data",
      "not valid base64 (character '!' at offset 4)");
  bad("truncated base64",
      HEAD "users:\n- name: u\n  user:\n    client-certificate-data: QUJ\n    client-key-data: x\n",
      NULL, "kc.yaml:12: users[0].user.client-certificate-data", "truncated");
  bad("base64 that is not PEM",
      HEAD "    certificate-authority-data: aGVsbG8=\nusers:\n- name: u\n  user: {token: t}\n",
      NULL, "certificate-authority-data", "not PEM");
  bad("missing token file", HEAD "users:\n- name: u\n  user:\n    tokenFile: /nonexistent/tok\n",
      NULL, "kc.yaml:12: users[0].user.tokenFile: cannot read /nonexistent/tok", NULL);
  bad("missing CA file", HEAD "    certificate-authority: missing-ca.pem\nusers: []\n", NULL,
      "kc.yaml:9: clusters[0].cluster.certificate-authority: cannot read", "missing-ca.pem");
  bad("missing cluster",
      "current-context: a\ncontexts:\n- name: a\n  context: {cluster: gone}\nclusters: []\n", NULL,
      "kc.yaml:4: contexts[0].context.cluster: no cluster named 'gone'", NULL);
  bad("missing user", HEAD "users: []\n", NULL,
      "kc.yaml:4: contexts[0].context.user: no user named 'u'", NULL);
  bad("CA and insecure together",
      HEAD "    insecure-skip-tls-verify: true\n    certificate-authority-data: "
           "LS0tLS1CRUdJTiBY\nusers: []\n",
      NULL, "insecure-skip-tls-verify", "both on and off");
  bad("insecure not a bool", HEAD "    insecure-skip-tls-verify: maybe\nusers: []\n", NULL,
      "kc.yaml:9: clusters[0].cluster.insecure-skip-tls-verify: expected true or false", NULL);
  bad("cert without key", HEAD "users:\n- name: u\n  user:\n    client-certificate: kc.yaml\n",
      NULL, "users[0].user: a client certificate without a client key", NULL);
  bad("exec plugin", HEAD "users:\n- name: u\n  user:\n    exec: {command: aws}\n", NULL,
      "kc.yaml:12: users[0].user.exec: not supported", NULL);
  bad("token and tokenFile", HEAD "users:\n- name: u\n  user:\n    token: a\n    tokenFile: b\n",
      NULL, "token and tokenFile are both set", NULL);
  bad("server missing",
      "current-context: a\ncontexts:\n- name: a\n  context: {cluster: c}\n"
      "clusters:\n- name: c\n  cluster: {insecure-skip-tls-verify: true}\n",
      NULL, "kc.yaml:7: clusters[0].cluster.server: missing", NULL);
  bad("server not a URL",
      "current-context: a\ncontexts:\n- name: a\n  context: {cluster: c}\n"
      "clusters:\n- name: c\n  cluster: {server: 'x:1'}\n",
      NULL, "clusters[0].cluster.server: 'x:1' is not an http(s):// URL", NULL);
  bad("server without a host",
      "current-context: a\ncontexts:\n- name: a\n  context: {cluster: c}\n"
      "clusters:\n- name: c\n  cluster: {server: 'https://'}\n",
      NULL, "clusters[0].cluster.server: 'https://' has no host", NULL);
  bad("YAML syntax", "current-context: [a\n", NULL, "kc.yaml:2", NULL);
  bad("not a mapping", "- a\n- b\n", NULL, "kubeconfig: expected a mapping", NULL);
  bad("contexts not a list", "current-context: a\ncontexts: {a: 1}\n", NULL,
      "kc.yaml:2: contexts: expected a list", NULL);

  sl_err_t err = {0};
  sl_kube_config_t c;
  T_OK(sl_kube_config_load_file(&c, "/nonexistent/kubeconfig", NULL, &err) == SL_EIO,
       "missing kubeconfig file");
  T_STR_HAS(err.msg, "/nonexistent/kubeconfig: cannot read kubeconfig", "names the file");
}

static void test_in_cluster(void) {
  char sa[128];
  snprintf(sa, sizeof sa, "%s/sa", dir);
  char cmd[256];
  snprintf(cmd, sizeof cmd, "mkdir -p %s", sa);
  T_OK(system(cmd) == 0, "sa dir");
  write_file("sa/token", "sa-token\n");
  write_file("sa/ca.crt", PEM_CA);
  write_file("sa/namespace", "inference\n");
  sl_err_t err = {0};
  sl_kube_config_t c;
  sl_kube_incluster_t o = {sa, "10.96.0.1", "443"};
  T_OK(sl_kube_config_in_cluster(&c, &o, &err) == 0, "in-cluster loads (%s)", err.msg);
  T_OK(!strcmp(c.server, "https://10.96.0.1:443"), "server from host and port");
  T_OK(!strcmp(c.token, "sa-token"), "service-account token");
  T_OK(!strcmp(c.namespace, "inference"), "service-account namespace");
  T_OK(c.ca_file && strstr(c.ca_file, "/sa/ca.crt"), "service-account CA");
  T_OK(c.token_file && strstr(c.token_file, "/sa/token"), "token file kept for re-reads");
  T_EQ_INT(c.insecure, 0, "verified");
  write_file("sa/token", "rotated\n");
  sl_kube_config_token(&c, 0, 0, &err);
  T_OK(!strcmp(sl_kube_config_token(&c, 60, 0, &err), "rotated"), "rotated token re-read");
  sl_kube_config_deinit(&c);
  o.host = "fd00::1";
  T_OK(sl_kube_config_in_cluster(&c, &o, &err) == 0 && !strcmp(c.server, "https://[fd00::1]:443"),
       "IPv6 service host bracketed");
  sl_kube_config_deinit(&c);
  o.host = "";
  T_EQ_INT(sl_kube_config_in_cluster(&c, &o, &err), SL_ENOTFOUND,
           "no service host: not in cluster");
  T_STR_HAS(err.msg, "KUBERNETES_SERVICE_HOST", "says which variable");
  o.host = "10.0.0.1";
  o.dir = "/nonexistent/sa";
  T_OK(sl_kube_config_in_cluster(&c, &o, &err) < 0, "missing token file");
  T_STR_HAS(err.msg, "/nonexistent/sa/token", "names the token file");
}

static void test_resolution(void) {
  char a[256], b[256];
  snprintf(a, sizeof a, "%s/a.yaml", dir);
  snprintf(b, sizeof b, "%s/b.yaml", dir);
  write_file("a.yaml", HEAD "users:\n- name: u\n  user: {token: from-a}\n");
  write_file("b.yaml", HEAD "users:\n- name: u\n  user: {token: from-b}\n");
  char env[600];
  snprintf(env, sizeof env, "%s:%s", a, b);
  setenv("KUBECONFIG", env, 1);
  unsetenv("KUBERNETES_SERVICE_HOST");
  sl_err_t err = {0};
  sl_kube_config_t c;
  T_OK(sl_kube_config_load(&c, NULL, NULL, &err) == 0 && !strcmp(c.token, "from-a"),
       "$KUBECONFIG: the first file is used");
  sl_kube_config_deinit(&c);
  T_OK(sl_kube_config_load(&c, b, NULL, &err) == 0 && !strcmp(c.token, "from-b"),
       "--kubeconfig wins over $KUBECONFIG");
  sl_kube_config_deinit(&c);
  unsetenv("KUBECONFIG");
  char home[128];
  snprintf(home, sizeof home, "%s/home", dir);
  char cmd[300];
  snprintf(cmd, sizeof cmd, "mkdir -p %s/.kube && cp %s %s/.kube/config", home, b, home);
  T_OK(system(cmd) == 0, "home dir");
  setenv("HOME", home, 1);
  T_OK(sl_kube_config_load(&c, NULL, NULL, &err) == 0 && !strcmp(c.token, "from-b"),
       "~/.kube/config as the last resort");
  sl_kube_config_deinit(&c);
  setenv("HOME", "/nonexistent", 1);
  T_EQ_INT(sl_kube_config_load(&c, NULL, NULL, &err), SL_ENOTFOUND, "nothing found");
  T_STR_HAS(err.msg, "no Kubernetes configuration", "says what is missing");
}

static void test_base64(void) {
  char out[64];
  size_t bad = 0;
  T_EQ_INT(sl_kube_base64_decode("aGVs\nbG8=", 9, out, &bad), 5, "decodes across a newline");
  T_OK(!memcmp(out, "hello", 5), "to the right bytes");
  T_EQ_INT(sl_kube_base64_decode("aGVsbA==", 8, out, &bad), 4, "two padding chars");
  T_EQ_INT(sl_kube_base64_decode("aGVsbA", 6, out, &bad), -1, "missing padding is refused");
  T_EQ_INT(sl_kube_base64_decode("aG=sbA==", 8, out, &bad), -1, "padding in the middle");
  T_EQ_INT(sl_kube_base64_decode("a===", 4, out, &bad), -1, "too much padding");
  T_EQ_INT(sl_kube_base64_decode("", 0, out, &bad), 0, "empty is empty");
}

int main(void) {
  snprintf(dir, sizeof dir, "/tmp/sluice-kc-XXXXXX");
  if (!mkdtemp(dir)) return 1;
  test_forms();
  test_errors();
  test_in_cluster();
  test_resolution();
  test_base64();
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  if (system(cmd) != 0) return 1;
  return tap_done();
}
