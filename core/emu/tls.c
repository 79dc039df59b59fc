// `sluice emulate --tls`: a self-signed certificate made at start (GnuTLS, the TLS library
// libmicrohttpd itself uses), valid for the bind address and localhost, which the kubeconfig
// carries as its certificate authority. Clients given another CA must refuse the server.
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/emu/tls.h"

static char *dup_datum(const gnutls_datum_t *d) {
  char *s = malloc(d->size + 1);
  if (!s) return NULL;
  memcpy(s, d->data, d->size);
  s[d->size] = '\0';
  return s;
}

int emu_tls_make(sl_emu_t *e, sl_err_t *err) {
  gnutls_x509_privkey_t key = NULL;
  gnutls_x509_crt_t crt = NULL;
  gnutls_datum_t c = {0}, k = {0};
  const char *host = e->o.host ? e->o.host : "127.0.0.1";
  unsigned char ip[4], serial[16];
  int rc = SL_EIO;
  for (size_t i = 0; i < sizeof serial; i++) serial[i] = (unsigned char)sl_rng_u64(&e->rng);
  serial[0] &= 0x7f; // a positive serial number
  time_t now = time(NULL);
  if (gnutls_x509_privkey_init(&key) < 0 ||
      gnutls_x509_privkey_generate(key, GNUTLS_PK_ECDSA,
                                   GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), 0) < 0 ||
      gnutls_x509_crt_init(&crt) < 0 || gnutls_x509_crt_set_version(crt, 3) < 0 ||
      gnutls_x509_crt_set_serial(crt, serial, sizeof serial) < 0 ||
      gnutls_x509_crt_set_activation_time(crt, now - 3600) < 0 ||
      gnutls_x509_crt_set_expiration_time(crt, now + 365 * 86400) < 0 ||
      gnutls_x509_crt_set_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, "sluice-emulate",
                                    strlen("sluice-emulate")) < 0 ||
      gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_DNSNAME, "localhost", 9,
                                           GNUTLS_FSAN_APPEND) < 0 ||
      (inet_pton(AF_INET, host, ip) == 1 &&
       gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_IPADDRESS, ip, 4, GNUTLS_FSAN_APPEND) <
           0) ||
      gnutls_x509_crt_set_basic_constraints(crt, 1, -1) < 0 ||
      gnutls_x509_crt_set_key_usage(crt, GNUTLS_KEY_DIGITAL_SIGNATURE | GNUTLS_KEY_KEY_CERT_SIGN) <
          0 ||
      gnutls_x509_crt_set_key_purpose_oid(crt, GNUTLS_KP_TLS_WWW_SERVER, 0) < 0 ||
      gnutls_x509_crt_set_key(crt, key) < 0 ||
      gnutls_x509_crt_sign2(crt, crt, key, GNUTLS_DIG_SHA256, 0) < 0 ||
      gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_PEM, &c) < 0 ||
      gnutls_x509_privkey_export2(key, GNUTLS_X509_FMT_PEM, &k) < 0) {
    sl_err(err, SL_EIO, "cannot make the TLS certificate");
    goto done;
  }
  if (!(e->cert_pem = dup_datum(&c)) || !(e->key_pem = dup_datum(&k))) {
    sl_err(err, SL_ENOMEM, "out of memory");
    goto done;
  }
  rc = SL_OK;
done:
  gnutls_free(c.data);
  if (k.data) {
    memset(k.data, 0, k.size);
    gnutls_free(k.data);
  }
  if (crt) gnutls_x509_crt_deinit(crt);
  if (key) gnutls_x509_privkey_deinit(key);
  return rc;
}
