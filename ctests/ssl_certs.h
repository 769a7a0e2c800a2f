/*
 * ssl_certs.h: certificates made when a TLS test or benchmark runs, so no
 * key is ever committed. A "CA" is a self-signed EC P-256 certificate; a
 * leaf is signed by one and names localhost (common name and DNS
 * subjectAltName). Both live one hour.
 */
#ifndef BEVRS_SSL_CERTS_H
#define BEVRS_SSL_CERTS_H

#include <stdio.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

/* A key and its certificate. */
struct certkey {
	EVP_PKEY *key;
	X509 *cert;
};

static inline void
certkey_free(struct certkey *ck)
{
	X509_free(ck->cert);
	EVP_PKEY_free(ck->key);
	ck->cert = NULL;
	ck->key = NULL;
}

/* Adds one v3 extension given in OpenSSL's config syntax. */
static inline int
certkey_ext(X509 *cert, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX v3;
	X509_EXTENSION *ext;
	int ok;

	X509V3_set_ctx(&v3, issuer, cert, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &v3, nid, value);
	if (!ext)
		return 0;
	ok = X509_add_ext(cert, ext, -1);
	X509_EXTENSION_free(ext);
	return ok;
}

/*
 * Makes a certificate named cn. With ca NULL it is a self-signed CA;
 * otherwise a leaf for localhost signed by ca. 0 on success.
 */
static inline int
certkey_make(struct certkey *ck, const char *cn, const struct certkey *ca,
    long serial)
{
	X509_NAME *name;
	X509 *issuer;
	EVP_PKEY *signer;

	ck->key = EVP_EC_gen("P-256");
	ck->cert = X509_new();
	if (!ck->key || !ck->cert)
		goto fail;
	X509_set_version(ck->cert, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(ck->cert), serial);
	X509_gmtime_adj(X509_getm_notBefore(ck->cert), -60);
	X509_gmtime_adj(X509_getm_notAfter(ck->cert), 3600);
	X509_set_pubkey(ck->cert, ck->key);
	name = X509_get_subject_name(ck->cert);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
	    (const unsigned char *)cn, -1, -1, 0);
	issuer = ca ? ca->cert : ck->cert;
	signer = ca ? ca->key : ck->key;
	X509_set_issuer_name(ck->cert, X509_get_subject_name(issuer));
	if (!ca) {
		if (!certkey_ext(ck->cert, issuer, NID_basic_constraints,
		    "critical,CA:TRUE") ||
		    !certkey_ext(ck->cert, issuer, NID_key_usage,
		    "critical,keyCertSign,cRLSign"))
			goto fail;
	} else {
		if (!certkey_ext(ck->cert, issuer, NID_basic_constraints,
		    "CA:FALSE") ||
		    !certkey_ext(ck->cert, issuer, NID_subject_alt_name,
		    "DNS:localhost,IP:127.0.0.1"))
			goto fail;
	}
	if (!certkey_ext(ck->cert, issuer, NID_subject_key_identifier,
	    "hash"))
		goto fail;
	if (!X509_sign(ck->cert, signer, EVP_sha256()))
		goto fail;
	return 0;
fail:
	certkey_free(ck);
	return -1;
}

/* A server context presenting leaf (its CA is not sent). */
static inline SSL_CTX *
certkey_server_ctx(const struct certkey *leaf)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());

	if (ctx && (SSL_CTX_use_certificate(ctx, leaf->cert) != 1 ||
	    SSL_CTX_use_PrivateKey(ctx, leaf->key) != 1)) {
		SSL_CTX_free(ctx);
		ctx = NULL;
	}
	return ctx;
}

/* A client context that verifies its peer against ca alone. */
static inline SSL_CTX *
certkey_client_ctx(const struct certkey *ca)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

	if (!ctx)
		return NULL;
	if (X509_STORE_add_cert(SSL_CTX_get_cert_store(ctx), ca->cert) != 1) {
		SSL_CTX_free(ctx);
		return NULL;
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	return ctx;
}

/* Writes the certificate (and with key_path the key) as PEM files. */
static inline int
certkey_write_pem(const struct certkey *ck, const char *cert_path,
    const char *key_path)
{
	FILE *f;
	int ok;

	f = fopen(cert_path, "w");
	if (!f)
		return -1;
	ok = PEM_write_X509(f, ck->cert);
	if (fclose(f) != 0 || !ok)
		return -1;
	if (!key_path)
		return 0;
	f = fopen(key_path, "w");
	if (!f)
		return -1;
	ok = PEM_write_PrivateKey(f, ck->key, NULL, NULL, 0, NULL, NULL);
	if (fclose(f) != 0 || !ok)
		return -1;
	return 0;
}

#endif /* BEVRS_SSL_CERTS_H */
