// TLS on OpenSSL 3, called straight from the addon: a context class (SSL_CTX) and a connection
// class (SSL) that is a memory engine. The connection never touches a socket: JavaScript reads
// ciphertext from its socket into an input buffer, the engine decrypts it into the caller's
// buffer, and encrypted output lands in an output buffer that JavaScript sends. So TLS runs
// unchanged on every I/O driver of AsyncSocket (readiness pollers, io_uring), and the policy
// (timeouts, waits, typed errors) stays in lib/io/tls.ts.
//
// Some facts about using the OpenSSL of the running Node:
// - Node's binary contains OpenSSL and exports its symbols (Linux, macOS and Windows, where
//   scripts/build-win32.sh links them, with N-API's, through a delay-import library made from
//   node.exe's export table); that is how addons are meant to use it. The addon links no OpenSSL of its own: it
//   compiles against the headers shipped with Node (include/node/openssl) and its references
//   resolve against the process when the addon is loaded.
// - Off Windows every OpenSSL function the addon calls is declared weak (the table below). A
//   runtime without OpenSSL (another JavaScript runtime, a Node built without it) then still
//   loads the addon, with those functions null: Available() checks each one and the version
//   before anything is called, and JavaScript falls back to Node's tls.
// - OpenSSL keeps an error queue per thread, shared with Node's own crypto on this thread. Every
//   call into an SSL function starts with an empty queue and leaves it empty: the first error
//   is captured into the connection (Capture()) and the rest is cleared.
// - The two buffers and a small Int32Array of positions belong to JavaScript (held by
//   references here). The engine's BIO copies ciphertext out of [IN_START, IN_END) and appends
//   to [OUT_START, OUT_END); JavaScript reads and moves the positions between calls. Nothing is
//   allocated per read or write.
// - SSL_MODE_ENABLE_PARTIAL_WRITE: a write returns after each record, so JavaScript counts
//   exactly what was taken when the output buffer fills; SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER:
//   a write retried after a flush may pass the same bytes at another address.
#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/opensslv.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/tls1.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <cstring>
#include <string>

#include "addon.h"

#if OPENSSL_VERSION_MAJOR != 3
#error "native/tls.cc is written for the OpenSSL 3 headers that Node 18 and later ship"
#endif

// Every OpenSSL function called below. Macros of the headers (SSL_CTX_set_min_proto_version,
// BIO_set_retry_read, SSL_set_tlsext_host_name, ...) expand to calls of the ctrl and flag
// functions listed here.
#define ASYNCORO_OPENSSL_FUNCTIONS(X)                                                          \
  X(OpenSSL_version_num) X(OpenSSL_version)                                                    \
  X(TLS_method) X(SSL_CTX_new) X(SSL_CTX_free) X(SSL_CTX_ctrl) X(SSL_CTX_set_options)         \
  X(SSL_CTX_get_cert_store) X(SSL_CTX_set1_cert_store) X(SSL_CTX_use_certificate)              \
  X(SSL_CTX_use_PrivateKey) X(SSL_CTX_check_private_key) X(SSL_CTX_add_client_CA)              \
  X(SSL_CTX_set_cipher_list) X(SSL_CTX_set_ciphersuites) X(SSL_CTX_set_alpn_select_cb)         \
  X(SSL_CTX_set_session_id_context) X(SSL_CTX_set_client_hello_cb) X(SSL_set_alpn_protos)      \
  X(SSL_new) X(SSL_free) X(SSL_set_bio) X(SSL_set_accept_state) X(SSL_set_connect_state)       \
  X(SSL_do_handshake) X(SSL_read_ex) X(SSL_write_ex) X(SSL_shutdown) X(SSL_get_error)          \
  X(SSL_ctrl) X(SSL_set_ex_data) X(SSL_get_ex_data) X(SSL_get_servername) X(SSL_set1_host)     \
  X(SSL_set_hostflags) X(SSL_get0_param) X(SSL_get_verify_result) X(SSL_get1_peer_certificate) \
  X(SSL_get_version) X(SSL_get_current_cipher) X(SSL_CIPHER_get_name) X(SSL_get0_alpn_selected) \
  X(SSL_session_reused) X(SSL_get1_session) X(SSL_SESSION_free) X(SSL_SESSION_is_resumable)    \
  X(i2d_SSL_SESSION) X(d2i_SSL_SESSION) X(SSL_set_session) X(SSL_set_SSL_CTX) X(SSL_set_verify) \
  X(SSL_client_hello_get0_ext) X(SSL_select_next_proto) X(SSL_is_init_finished)                \
  X(BIO_meth_new) X(BIO_meth_free) X(BIO_meth_set_write_ex) X(BIO_meth_set_read_ex) X(BIO_meth_set_ctrl)        \
  X(BIO_meth_set_create) X(BIO_get_new_index) X(BIO_new) X(BIO_free) X(BIO_set_data)           \
  X(BIO_get_data) X(BIO_set_init) X(BIO_set_flags) X(BIO_clear_flags) X(BIO_new_mem_buf)       \
  X(PEM_read_bio_X509) X(PEM_read_bio_X509_AUX) X(PEM_read_bio_PrivateKey)                     \
  X(X509_free) X(i2d_X509) X(X509_STORE_add_cert) X(X509_verify_cert_error_string)            \
  X(X509_VERIFY_PARAM_set1_ip_asc) X(EVP_PKEY_free)                                            \
  X(ERR_get_error) X(ERR_peek_error) X(ERR_clear_error) X(ERR_reason_error_string)             \
  X(ERR_lib_error_string) X(ERR_error_string_n)

#if !defined(_WIN32)
#define ASYNCORO_PRAGMA(x) _Pragma(#x)
#define ASYNCORO_WEAK(f) ASYNCORO_PRAGMA(weak f)
ASYNCORO_OPENSSL_FUNCTIONS(ASYNCORO_WEAK)
#undef ASYNCORO_WEAK
#endif

namespace asyncoro {
namespace {

// Positions in the shared Int32Array (see the file comment).
enum : int { kInStart = 0, kInEnd = 1, kOutStart = 2, kOutEnd = 3, kEof = 4, kStateLength = 5 };

// Results of handshake(), read(), write() and shutdown() below zero. A read returns 0 at the end
// of the stream (close_notify, or the transport's end without one).
enum : int {
  kWantRead = -1,    // feed ciphertext into the input buffer, then call again
  kWantWrite = -2,   // send the output buffer, then call again
  kError = -3,       // failed for good: error() says why
  kHello = -4,       // server: the ClientHello arrived; choose a context (SNI), then call again
};

// Verification modes of a connection (setVerify).
enum : int { kVerifyNone = 0, kVerifyPeer = 1, kVerifyRequire = 2, kVerifyRequest = 3 };

// Whether every function the addon needs is in this process and the OpenSSL is a 3.x.
bool Available() {
#if !defined(_WIN32)
#define ASYNCORO_PRESENT(f) \
  if (reinterpret_cast<void*>(&f) == nullptr) return false;
  ASYNCORO_OPENSSL_FUNCTIONS(ASYNCORO_PRESENT)
#undef ASYNCORO_PRESENT
#endif
  // 0xMNN00PP0L: the major version is the top nibble. The 3.x ABI is stable across minors, and
  // these headers are 3.0's, so any 3.x at run time has every function used here.
  return (OpenSSL_version_num() >> 28) == 3;
}

// The verification results a user may meet, by the names Node uses for them (err.code there).
#define ASYNCORO_VERIFY_ERRORS(X)                                                              \
  X(UNABLE_TO_GET_ISSUER_CERT) X(UNABLE_TO_GET_CRL) X(UNABLE_TO_DECRYPT_CERT_SIGNATURE)        \
  X(UNABLE_TO_DECRYPT_CRL_SIGNATURE) X(UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY)                     \
  X(CERT_SIGNATURE_FAILURE) X(CRL_SIGNATURE_FAILURE) X(CERT_NOT_YET_VALID) X(CERT_HAS_EXPIRED) \
  X(CRL_NOT_YET_VALID) X(CRL_HAS_EXPIRED) X(ERROR_IN_CERT_NOT_BEFORE_FIELD)                    \
  X(ERROR_IN_CERT_NOT_AFTER_FIELD) X(ERROR_IN_CRL_LAST_UPDATE_FIELD)                           \
  X(ERROR_IN_CRL_NEXT_UPDATE_FIELD) X(OUT_OF_MEM) X(DEPTH_ZERO_SELF_SIGNED_CERT)               \
  X(SELF_SIGNED_CERT_IN_CHAIN) X(UNABLE_TO_GET_ISSUER_CERT_LOCALLY)                            \
  X(UNABLE_TO_VERIFY_LEAF_SIGNATURE) X(CERT_CHAIN_TOO_LONG) X(CERT_REVOKED) X(INVALID_CA)      \
  X(PATH_LENGTH_EXCEEDED) X(INVALID_PURPOSE) X(CERT_UNTRUSTED) X(CERT_REJECTED)                \
  X(HOSTNAME_MISMATCH) X(EMAIL_MISMATCH) X(IP_ADDRESS_MISMATCH) X(EE_KEY_TOO_SMALL)            \
  X(CA_KEY_TOO_SMALL) X(CA_MD_TOO_WEAK) X(INVALID_CALL) X(STORE_LOOKUP)

// What failed, captured from the error queue (and the verification result) at the failure.
struct TlsFailure {
  unsigned long code = 0;  // the packed OpenSSL error code, 0 if the queue was empty
  std::string reason;      // "certificate verify failed", "wrong version number", ...
  std::string library;     // "SSL routines", "PEM routines", ...
  long verify = X509_V_OK; // the certificate verification result, when it is the cause

  void Clear() {
    code = 0;
    reason.clear();
    library.clear();
    verify = X509_V_OK;
  }

  // Takes the oldest error of the queue (the cause; later ones add context) and empties it.
  void Capture(const char* fallback) {
    Clear();
    code = ERR_get_error();
    if (code != 0) {
      const char* r = ERR_reason_error_string(code);
      const char* l = ERR_lib_error_string(code);
      if (r != nullptr) {
        reason = r;
      } else {
        char buf[256];
        ERR_error_string_n(code, buf, sizeof(buf));
        reason = buf;
      }
      if (l != nullptr) library = l;
    } else {
      reason = fallback;
    }
    ERR_clear_error();
  }

  Napi::Value ToJs(Napi::Env env) const {
    Napi::Object o = Napi::Object::New(env);
    o.Set("reason", reason);
    o.Set("library", library);
    o.Set("code", static_cast<double>(code));
    o.Set("verify", static_cast<double>(verify));
    o.Set("verifyMessage", verify != X509_V_OK ? X509_verify_cert_error_string(verify) : "");
    return o;
  }
};

// Reads a Buffer/Uint8Array argument's bytes, or returns false.
bool ArgBytes(const Napi::CallbackInfo& info, size_t i, const uint8_t** data, size_t* len) {
  if (info.Length() <= i || !info[i].IsTypedArray()) return false;
  Napi::TypedArray ta = info[i].As<Napi::TypedArray>();
  if (ta.TypedArrayType() != napi_uint8_array) return false;
  Napi::Uint8Array u = ta.As<Napi::Uint8Array>();
  *data = u.Data();
  *len = u.ElementLength();
  return true;
}

// As ArgBytes for [buf, off, len] arguments, bounds-checked.
bool ArgRange(const Napi::CallbackInfo& info, size_t i, uint8_t** data, size_t* len) {
  if (info.Length() <= i + 2 || !info[i].IsTypedArray()) return false;
  Napi::TypedArray ta = info[i].As<Napi::TypedArray>();
  if (ta.TypedArrayType() != napi_uint8_array) return false;
  int32_t off, n;
  if (!ArgInt(info, i + 1, &off) || !ArgInt(info, i + 2, &n) || off < 0 || n < 0) return false;
  Napi::Uint8Array u = ta.As<Napi::Uint8Array>();
  if (static_cast<size_t>(off) + static_cast<size_t>(n) > u.ElementLength()) return false;
  *data = u.Data() + off;
  *len = static_cast<size_t>(n);
  return true;
}

Napi::Value Num(const Napi::CallbackInfo& info, double v) { return Napi::Number::New(info.Env(), v); }

// ---- contexts ----

class TlsContext : public Napi::ObjectWrap<TlsContext> {
 public:
  static Napi::Function Define(Napi::Env env);
  explicit TlsContext(const Napi::CallbackInfo& info);
  ~TlsContext() override {
    if (ctx_ != nullptr) SSL_CTX_free(ctx_);
  }
  SSL_CTX* ctx() const { return ctx_; }

 private:
  Napi::Value SetCert(const Napi::CallbackInfo& info);
  Napi::Value SetKey(const Napi::CallbackInfo& info);
  Napi::Value AddCA(const Napi::CallbackInfo& info);
  Napi::Value ShareStore(const Napi::CallbackInfo& info);
  Napi::Value SetProtocols(const Napi::CallbackInfo& info);
  Napi::Value SetCiphers(const Napi::CallbackInfo& info);
  Napi::Value Error(const Napi::CallbackInfo& info) { return failure_.ToJs(info.Env()); }

  // Records the failure of a configuration call and returns kError.
  Napi::Value Fail(const Napi::CallbackInfo& info, const char* what) {
    failure_.Capture(what);
    return Num(info, kError);
  }

  SSL_CTX* ctx_ = nullptr;
  TlsFailure failure_;
};

Napi::Function TlsContext::Define(Napi::Env env) {
  return DefineClass(env, "TlsContext",
                     {
                         InstanceMethod<&TlsContext::SetCert>("setCert"),
                         InstanceMethod<&TlsContext::SetKey>("setKey"),
                         InstanceMethod<&TlsContext::AddCA>("addCA"),
                         InstanceMethod<&TlsContext::ShareStore>("shareStore"),
                         InstanceMethod<&TlsContext::SetProtocols>("setProtocols"),
                         InstanceMethod<&TlsContext::SetCiphers>("setCiphers"),
                         InstanceMethod<&TlsContext::Error>("error"),
                     });
}

int SelectAlpn(SSL* ssl, const unsigned char** out, unsigned char* outlen, const unsigned char* in,
               unsigned int inlen, void* arg);
int HelloCb(SSL* ssl, int* alert, void* arg);

// new TlsContext(): credentials, trust, protocol bounds and ciphers, for clients and servers
// alike (as Node's SecureContext); what differs per connection is set on the connection.
// Throws (OpenSSL missing, or out of memory) on failure.
TlsContext::TlsContext(const Napi::CallbackInfo& info) : Napi::ObjectWrap<TlsContext>(info) {
  Napi::Env env = info.Env();
  if (!Available()) {
    Napi::Error::New(env, "the OpenSSL of this process is missing or not 3.x").ThrowAsJavaScriptException();
    return;
  }
  ERR_clear_error();
  ctx_ = SSL_CTX_new(TLS_method());
  if (ctx_ == nullptr) {
    failure_.Capture("SSL_CTX_new failed");
    Napi::Error::New(env, "SSL_CTX_new: " + failure_.reason).ThrowAsJavaScriptException();
    return;
  }
  // TLS 1.2 at least (Node's default too); no renegotiation, so a write never has to read. The
  // transport's end without close_notify is an end of stream, as Node's tls treats it (OpenSSL
  // then asks the BIO, BIO_CTRL_EOF, whether the transport really ended).
  bool ok = SSL_CTX_set_min_proto_version(ctx_, TLS1_2_VERSION) == 1;
  SSL_CTX_set_options(ctx_, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE |
                                SSL_OP_IGNORE_UNEXPECTED_EOF);
  SSL_CTX_set_mode(ctx_, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  // A server's sessions resume only with this context; required once client certificates are
  // verified, unused by clients.
  static const unsigned char kSid[] = "asyncoro";
  ok = ok && SSL_CTX_set_session_id_context(ctx_, kSid, sizeof(kSid) - 1) == 1;
  // Both act per connection: ALPN chooses from the connection's list, and the ClientHello pauses
  // only connections that asked for it.
  SSL_CTX_set_alpn_select_cb(ctx_, SelectAlpn, nullptr);
  SSL_CTX_set_client_hello_cb(ctx_, HelloCb, nullptr);
  if (!ok) {
    failure_.Capture("SSL_CTX configuration failed");
    Napi::Error::New(env, "SSL_CTX: " + failure_.reason).ThrowAsJavaScriptException();
  }
}

// setCert(pem): the first certificate of the PEM text is the context's own, the rest its chain.
Napi::Value TlsContext::SetCert(const Napi::CallbackInfo& info) {
  const uint8_t* data;
  size_t len;
  if (!ArgBytes(info, 0, &data, &len) || len > INT32_MAX) return Num(info, -EINVAL);
  ERR_clear_error();
  BIO* bio = BIO_new_mem_buf(data, static_cast<int>(len));
  if (bio == nullptr) return Fail(info, "BIO_new_mem_buf failed");
  X509* leaf = PEM_read_bio_X509_AUX(bio, nullptr, nullptr, nullptr);
  if (leaf == nullptr) {
    BIO_free(bio);
    return Fail(info, "no certificate in the PEM text");
  }
  int ok = SSL_CTX_use_certificate(ctx_, leaf);
  X509_free(leaf);  // the context took its own reference
  if (ok != 1) {
    BIO_free(bio);
    return Fail(info, "SSL_CTX_use_certificate failed");
  }
  // A new leaf clears no old chain: replace it explicitly.
  SSL_CTX_clear_chain_certs(ctx_);
  for (;;) {
    X509* ca = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
    if (ca == nullptr) break;
    if (SSL_CTX_add0_chain_cert(ctx_, ca) != 1) {  // add0 takes the reference on success only
      X509_free(ca);
      BIO_free(bio);
      return Fail(info, "SSL_CTX_add0_chain_cert failed");
    }
  }
  BIO_free(bio);
  // The loop ends at the end of the text, which leaves a "no start line" error behind.
  unsigned long e = ERR_peek_error();
  if (e != 0 && !(ERR_GET_LIB(e) == ERR_LIB_PEM && ERR_GET_REASON(e) == PEM_R_NO_START_LINE)) {
    return Fail(info, "bad certificate chain");
  }
  ERR_clear_error();
  return Num(info, 0);
}

int PassphraseCb(char* buf, int size, int, void* u) {
  const std::string* pass = static_cast<const std::string*>(u);
  if (pass == nullptr) return -1;  // encrypted key without a passphrase: fail, do not prompt
  int n = static_cast<int>(std::min<size_t>(pass->size(), static_cast<size_t>(size)));
  memcpy(buf, pass->data(), static_cast<size_t>(n));
  return n;
}

// setKey(pem, passphrase?): the private key; it must match the certificate set before.
Napi::Value TlsContext::SetKey(const Napi::CallbackInfo& info) {
  const uint8_t* data;
  size_t len;
  if (!ArgBytes(info, 0, &data, &len) || len > INT32_MAX) return Num(info, -EINVAL);
  std::string pass;
  bool has_pass = info.Length() > 1 && info[1].IsString();
  if (has_pass) pass = info[1].As<Napi::String>().Utf8Value();
  ERR_clear_error();
  BIO* bio = BIO_new_mem_buf(data, static_cast<int>(len));
  if (bio == nullptr) return Fail(info, "BIO_new_mem_buf failed");
  EVP_PKEY* key = PEM_read_bio_PrivateKey(bio, nullptr, PassphraseCb, has_pass ? &pass : nullptr);
  BIO_free(bio);
  if (key == nullptr) return Fail(info, "no private key in the PEM text");
  int ok = SSL_CTX_use_PrivateKey(ctx_, key);
  EVP_PKEY_free(key);
  if (ok != 1) return Fail(info, "SSL_CTX_use_PrivateKey failed");
  if (SSL_CTX_check_private_key(ctx_) != 1) return Fail(info, "the key does not match the certificate");
  return Num(info, 0);
}

// addCA(pem): trusts every certificate of the PEM text; a server also names them to clients as
// acceptable issuers of client certificates. Returns how many were added.
Napi::Value TlsContext::AddCA(const Napi::CallbackInfo& info) {
  const uint8_t* data;
  size_t len;
  if (!ArgBytes(info, 0, &data, &len) || len > INT32_MAX) return Num(info, -EINVAL);
  ERR_clear_error();
  BIO* bio = BIO_new_mem_buf(data, static_cast<int>(len));
  if (bio == nullptr) return Fail(info, "BIO_new_mem_buf failed");
  X509_STORE* store = SSL_CTX_get_cert_store(ctx_);
  int count = 0;
  for (;;) {
    X509* cert = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
    if (cert == nullptr) break;
    // The store and the client CA list take references of their own.
    int ok = X509_STORE_add_cert(store, cert);
    if (ok == 1) ok = SSL_CTX_add_client_CA(ctx_, cert);
    X509_free(cert);
    if (ok != 1) {
      BIO_free(bio);
      return Fail(info, "adding a CA certificate failed");
    }
    count++;
  }
  BIO_free(bio);
  unsigned long e = ERR_peek_error();
  if (count == 0 || (e != 0 && !(ERR_GET_LIB(e) == ERR_LIB_PEM && ERR_GET_REASON(e) == PEM_R_NO_START_LINE))) {
    return Fail(info, "no certificate in the PEM text");
  }
  ERR_clear_error();
  return Num(info, count);
}

// shareStore(other): verifies with the other context's trusted certificates (one shared store
// of default roots instead of one parsed copy per context).
Napi::Value TlsContext::ShareStore(const Napi::CallbackInfo& info) {
  if (info.Length() < 1 || !info[0].IsObject()) return Num(info, -EINVAL);
  TlsContext* other = Napi::ObjectWrap<TlsContext>::Unwrap(info[0].As<Napi::Object>());
  if (other == nullptr || other->ctx_ == nullptr) return Num(info, -EINVAL);
  SSL_CTX_set1_cert_store(ctx_, SSL_CTX_get_cert_store(other->ctx_));
  return Num(info, 0);
}

// Accepts the peer's certificate whatever its verification says: SSL_get_verify_result() still
// records the result, which becomes `authorized` and `authorizationError`.
int AcceptAnyway(int, X509_STORE_CTX*) { return 1; }

// setProtocols(min, max): TLS1_2_VERSION or TLS1_3_VERSION each (0: no upper bound).
Napi::Value TlsContext::SetProtocols(const Napi::CallbackInfo& info) {
  int32_t lo, hi;
  if (!ArgInt(info, 0, &lo) || !ArgInt(info, 1, &hi)) return Num(info, -EINVAL);
  ERR_clear_error();
  if (SSL_CTX_set_min_proto_version(ctx_, lo) != 1 || SSL_CTX_set_max_proto_version(ctx_, hi) != 1) {
    return Fail(info, "unsupported protocol version");
  }
  return Num(info, 0);
}

// setCiphers(list12, suites13): OpenSSL cipher strings for TLS 1.2 and TLS 1.3 ("" keeps the
// default of that version).
Napi::Value TlsContext::SetCiphers(const Napi::CallbackInfo& info) {
  if (info.Length() < 2 || !info[0].IsString() || !info[1].IsString()) return Num(info, -EINVAL);
  std::string list = info[0].As<Napi::String>().Utf8Value();
  std::string suites = info[1].As<Napi::String>().Utf8Value();
  ERR_clear_error();
  if (!list.empty() && SSL_CTX_set_cipher_list(ctx_, list.c_str()) != 1) return Fail(info, "no cipher matches");
  if (!suites.empty() && SSL_CTX_set_ciphersuites(ctx_, suites.c_str()) != 1) {
    return Fail(info, "no TLS 1.3 cipher suite matches");
  }
  return Num(info, 0);
}

// ---- connections ----

BIO_METHOD* EngineMethod();

class TlsConn : public Napi::ObjectWrap<TlsConn> {
 public:
  static Napi::Function Define(Napi::Env env);
  explicit TlsConn(const Napi::CallbackInfo& info);
  ~TlsConn() override { Free(); }

  // The BIO's view of the shared buffers.
  uint8_t* in_ = nullptr;
  size_t in_cap_ = 0;
  uint8_t* out_ = nullptr;
  size_t out_cap_ = 0;
  int32_t* st_ = nullptr;
  // During a paused ClientHello: the server name the client asked for, and whether JavaScript
  // has made its choice (the callback then lets the handshake go on).
  std::string hello_name_;
  bool hello_pause_ = false;
  bool hello_done_ = false;
  // A server's ALPN protocols in wire format (length-prefixed names), in preference order.
  std::string alpn_;

 private:
  Napi::Value SetHost(const Napi::CallbackInfo& info);
  Napi::Value SetVerify(const Napi::CallbackInfo& info);
  Napi::Value SetAlpn(const Napi::CallbackInfo& info);
  Napi::Value SetHelloPause(const Napi::CallbackInfo& info);
  Napi::Value SetSession(const Napi::CallbackInfo& info);
  Napi::Value SetContext(const Napi::CallbackInfo& info);
  Napi::Value Handshake(const Napi::CallbackInfo& info);
  Napi::Value Read(const Napi::CallbackInfo& info);
  Napi::Value Write(const Napi::CallbackInfo& info);
  Napi::Value Shutdown(const Napi::CallbackInfo& info);
  Napi::Value Info(const Napi::CallbackInfo& info);
  Napi::Value PeerCertificate(const Napi::CallbackInfo& info);
  Napi::Value Session(const Napi::CallbackInfo& info);
  Napi::Value HelloName(const Napi::CallbackInfo& info);
  Napi::Value Error(const Napi::CallbackInfo& info) { return failure_.ToJs(info.Env()); }
  Napi::Value FreeJs(const Napi::CallbackInfo& info) {
    Free();
    return info.Env().Undefined();
  }

  // Maps an SSL call's result to a status, capturing the failure.
  int Status(int ret, const char* what);
  void Free();

  SSL* ssl_ = nullptr;
  bool failed_ = false;
  Napi::ObjectReference ctx_ref_;
  Napi::ObjectReference sni_ctx_ref_;
  Napi::ObjectReference in_ref_;
  Napi::ObjectReference out_ref_;
  Napi::ObjectReference st_ref_;
  TlsFailure failure_;
};

int SelectAlpn(SSL* ssl, const unsigned char** out, unsigned char* outlen, const unsigned char* in,
               unsigned int inlen, void*) {
  TlsConn* c = static_cast<TlsConn*>(SSL_get_ex_data(ssl, 0));
  if (c == nullptr || c->alpn_.empty()) return SSL_TLSEXT_ERR_NOACK;
  unsigned char* chosen = nullptr;
  // The server's order decides (RFC 7301 3.2). No protocol in common is a fatal
  // no_application_protocol alert, as Node's server does.
  if (SSL_select_next_proto(&chosen, outlen, reinterpret_cast<const unsigned char*>(c->alpn_.data()),
                            static_cast<unsigned int>(c->alpn_.size()), in, inlen) != OPENSSL_NPN_NEGOTIATED) {
    return SSL_TLSEXT_ERR_ALERT_FATAL;
  }
  *out = chosen;
  return SSL_TLSEXT_ERR_OK;
}

int HelloCb(SSL* ssl, int* alert, void*) {
  TlsConn* c = static_cast<TlsConn*>(SSL_get_ex_data(ssl, 0));
  if (c == nullptr || !c->hello_pause_ || c->hello_done_) return SSL_CLIENT_HELLO_SUCCESS;
  // server_name (RFC 6066 3): a 2-byte list length, then entries of a type byte (0: host_name),
  // a 2-byte length and the name.
  c->hello_name_.clear();
  const unsigned char* p;
  size_t len;
  if (SSL_client_hello_get0_ext(ssl, TLSEXT_TYPE_server_name, &p, &len) == 1 && len >= 2) {
    size_t list = (static_cast<size_t>(p[0]) << 8) | p[1];
    if (list + 2 != len) {
      *alert = SSL_AD_DECODE_ERROR;
      return SSL_CLIENT_HELLO_ERROR;
    }
    size_t i = 2;
    while (i + 3 <= len) {
      unsigned type = p[i];
      size_t n = (static_cast<size_t>(p[i + 1]) << 8) | p[i + 2];
      if (i + 3 + n > len) {
        *alert = SSL_AD_DECODE_ERROR;
        return SSL_CLIENT_HELLO_ERROR;
      }
      if (type == TLSEXT_NAMETYPE_host_name) {
        c->hello_name_.assign(reinterpret_cast<const char*>(p + i + 3), n);
        break;
      }
      i += 3 + n;
    }
  }
  return SSL_CLIENT_HELLO_RETRY;
}

// The engine BIO: reads come out of the input buffer, writes go into the output buffer.
int EngineRead(BIO* b, char* data, size_t len, size_t* readbytes) {
  TlsConn* c = static_cast<TlsConn*>(BIO_get_data(b));
  BIO_clear_retry_flags(b);
  *readbytes = 0;
  int32_t* st = c->st_;
  int32_t start = st[kInStart], end = st[kInEnd];
  if (start < 0 || start > end || static_cast<size_t>(end) > c->in_cap_) return -1;  // a bug above
  if (start == end) {
    st[kInStart] = st[kInEnd] = 0;
    if (st[kEof] != 0) return 0;  // the transport ended: EOF for OpenSSL
    BIO_set_retry_read(b);
    return 0;
  }
  size_t n = std::min(len, static_cast<size_t>(end - start));
  memcpy(data, c->in_ + start, n);
  start += static_cast<int32_t>(n);
  if (start == end) start = end = 0;
  st[kInStart] = start;
  st[kInEnd] = end;
  *readbytes = n;
  return 1;
}

int EngineWrite(BIO* b, const char* data, size_t len, size_t* written) {
  TlsConn* c = static_cast<TlsConn*>(BIO_get_data(b));
  BIO_clear_retry_flags(b);
  *written = 0;
  int32_t* st = c->st_;
  int32_t start = st[kOutStart], end = st[kOutEnd];
  if (start < 0 || start > end || static_cast<size_t>(end) > c->out_cap_) return -1;
  // Empty means nothing is being sent from the buffer either (a send in flight covers
  // [OUT_START, x) with x > OUT_START), so it can start again at 0.
  if (start == end) start = end = 0;
  size_t room = c->out_cap_ - static_cast<size_t>(end);
  if (room == 0) {
    BIO_set_retry_write(b);
    st[kOutStart] = start;
    st[kOutEnd] = end;
    return 0;
  }
  size_t n = std::min(len, room);
  memcpy(c->out_ + end, data, n);
  st[kOutStart] = start;
  st[kOutEnd] = end + static_cast<int32_t>(n);
  *written = n;
  return 1;
}

long EngineCtrl(BIO* b, int cmd, long, void*) {
  TlsConn* c = static_cast<TlsConn*>(BIO_get_data(b));
  switch (cmd) {
    case BIO_CTRL_FLUSH:  // output is flushed by JavaScript; nothing is held here
    case BIO_CTRL_DUP:
      return 1;
    case BIO_CTRL_PENDING:
      return c != nullptr ? c->st_[kInEnd] - c->st_[kInStart] : 0;
    case BIO_CTRL_WPENDING:
      return 0;
    case BIO_CTRL_EOF:
      return c != nullptr && c->st_[kEof] != 0 && c->st_[kInEnd] == c->st_[kInStart];
    default:
      return 0;
  }
}

int EngineCreate(BIO* b) {
  BIO_set_data(b, nullptr);
  BIO_set_init(b, 1);
  return 1;
}

// One method table for the process, made on first use and never changed (not mutable state:
// every environment and thread uses the same immutable table).
BIO_METHOD* EngineMethod() {
  static BIO_METHOD* method = [] {
    BIO_METHOD* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "asyncoro engine");
    if (m == nullptr) return m;
    if (BIO_meth_set_read_ex(m, EngineRead) != 1 || BIO_meth_set_write_ex(m, EngineWrite) != 1 ||
        BIO_meth_set_ctrl(m, EngineCtrl) != 1 || BIO_meth_set_create(m, EngineCreate) != 1) {
      BIO_meth_free(m);
      return static_cast<BIO_METHOD*>(nullptr);
    }
    return m;
  }();
  return method;
}

Napi::Function TlsConn::Define(Napi::Env env) {
  return DefineClass(env, "TlsConn",
                     {
                         InstanceMethod<&TlsConn::SetHost>("setHost"),
                         InstanceMethod<&TlsConn::SetVerify>("setVerify"),
                         InstanceMethod<&TlsConn::SetAlpn>("setAlpn"),
                         InstanceMethod<&TlsConn::SetHelloPause>("setHelloPause"),
                         InstanceMethod<&TlsConn::SetSession>("setSession"),
                         InstanceMethod<&TlsConn::SetContext>("setContext"),
                         InstanceMethod<&TlsConn::Handshake>("handshake"),
                         InstanceMethod<&TlsConn::Read>("read"),
                         InstanceMethod<&TlsConn::Write>("write"),
                         InstanceMethod<&TlsConn::Shutdown>("shutdown"),
                         InstanceMethod<&TlsConn::Info>("info"),
                         InstanceMethod<&TlsConn::PeerCertificate>("peerCertificate"),
                         InstanceMethod<&TlsConn::Session>("session"),
                         InstanceMethod<&TlsConn::HelloName>("helloName"),
                         InstanceMethod<&TlsConn::Error>("error"),
                         InstanceMethod<&TlsConn::FreeJs>("free"),
                     });
}

// Unwraps a TlsContext argument, checking it is one (instanceof the constructor).
TlsContext* ArgContext(const Napi::CallbackInfo& info, size_t i) {
  if (info.Length() <= i || !info[i].IsObject()) return nullptr;
  AddonData* data = info.Env().GetInstanceData<AddonData>();
  Napi::Object o = info[i].As<Napi::Object>();
  if (data == nullptr || !o.InstanceOf(data->tls_context_ctor.Value())) return nullptr;
  TlsContext* ctx = Napi::ObjectWrap<TlsContext>::Unwrap(o);
  return ctx != nullptr && ctx->ctx() != nullptr ? ctx : nullptr;
}

// new TlsConn(ctx, server, inBuf, outBuf, state): a server or client connection. It verifies
// the peer as a client (VERIFY_PEER) or not at all as a server (VERIFY_NONE) until setVerify().
TlsConn::TlsConn(const Napi::CallbackInfo& info) : Napi::ObjectWrap<TlsConn>(info) {
  Napi::Env env = info.Env();
  TlsContext* ctx = ArgContext(info, 0);
  if (ctx == nullptr || info.Length() < 5 || !info[1].IsBoolean() || !info[2].IsTypedArray() ||
      !info[3].IsTypedArray() || !info[4].IsTypedArray()) {
    Napi::TypeError::New(env, "TlsConn(ctx: TlsContext, server: boolean, in: Uint8Array, out: Uint8Array, state: Int32Array)")
        .ThrowAsJavaScriptException();
    return;
  }
  bool server = info[1].As<Napi::Boolean>().Value();
  Napi::TypedArray in = info[2].As<Napi::TypedArray>();
  Napi::TypedArray out = info[3].As<Napi::TypedArray>();
  Napi::TypedArray st = info[4].As<Napi::TypedArray>();
  if (in.TypedArrayType() != napi_uint8_array || out.TypedArrayType() != napi_uint8_array ||
      st.TypedArrayType() != napi_int32_array || st.ElementLength() < kStateLength ||
      in.ElementLength() == 0 || out.ElementLength() == 0 || in.ElementLength() > INT32_MAX ||
      out.ElementLength() > INT32_MAX) {
    Napi::TypeError::New(env, "TlsConn: bad buffers").ThrowAsJavaScriptException();
    return;
  }
  in_ = in.As<Napi::Uint8Array>().Data();
  in_cap_ = in.ElementLength();
  out_ = out.As<Napi::Uint8Array>().Data();
  out_cap_ = out.ElementLength();
  st_ = st.As<Napi::Int32Array>().Data();
  for (int i = 0; i < kStateLength; i++) st_[i] = 0;
  // The buffers and the context live as long as the connection uses them.
  ctx_ref_ = Napi::Persistent(info[0].As<Napi::Object>());
  in_ref_ = Napi::Persistent(in.As<Napi::Object>());
  out_ref_ = Napi::Persistent(out.As<Napi::Object>());
  st_ref_ = Napi::Persistent(st.As<Napi::Object>());

  ERR_clear_error();
  BIO_METHOD* method = EngineMethod();
  ssl_ = SSL_new(ctx->ctx());
  BIO* bio = method != nullptr ? BIO_new(method) : nullptr;
  if (ssl_ == nullptr || bio == nullptr || SSL_set_ex_data(ssl_, 0, this) != 1) {
    if (bio != nullptr) BIO_free(bio);
    failure_.Capture("SSL_new failed");
    Free();
    Napi::Error::New(env, "TlsConn: " + failure_.reason).ThrowAsJavaScriptException();
    return;
  }
  BIO_set_data(bio, this);
  SSL_set_bio(ssl_, bio, bio);  // one BIO both ways; the SSL owns it now
  if (server) {
    SSL_set_accept_state(ssl_);
    SSL_set_verify(ssl_, SSL_VERIFY_NONE, nullptr);
  } else {
    SSL_set_connect_state(ssl_);
    SSL_set_verify(ssl_, SSL_VERIFY_PEER, nullptr);
  }
}

// setVerify(mode): VERIFY_NONE (verify, record the result, go on), VERIFY_PEER (fail unless the
// peer's certificate verifies), VERIFY_REQUIRE (server: a verified client certificate is
// required), VERIFY_REQUEST (server: ask for a client certificate, record, go on).
Napi::Value TlsConn::SetVerify(const Napi::CallbackInfo& info) {
  int32_t mode;
  if (ssl_ == nullptr || !ArgInt(info, 0, &mode)) return Num(info, -EINVAL);
  switch (mode) {
    case kVerifyNone:
      SSL_set_verify(ssl_, SSL_VERIFY_NONE, nullptr);
      break;
    case kVerifyPeer:
      SSL_set_verify(ssl_, SSL_VERIFY_PEER, nullptr);
      break;
    case kVerifyRequire:
      SSL_set_verify(ssl_, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
      break;
    case kVerifyRequest:
      SSL_set_verify(ssl_, SSL_VERIFY_PEER, AcceptAnyway);
      break;
    default:
      return Num(info, -EINVAL);
  }
  return Num(info, 0);
}

// setAlpn(wire, server): the protocols in wire format; a client offers them, a server chooses
// among them in its own order.
Napi::Value TlsConn::SetAlpn(const Napi::CallbackInfo& info) {
  const uint8_t* data;
  size_t len;
  if (ssl_ == nullptr || !ArgBytes(info, 0, &data, &len) || len == 0 || len > 65535 || info.Length() < 2) {
    return Num(info, -EINVAL);
  }
  if (info[1].ToBoolean().Value()) {
    alpn_.assign(reinterpret_cast<const char*>(data), len);
    return Num(info, 0);
  }
  ERR_clear_error();
  if (SSL_set_alpn_protos(ssl_, data, static_cast<unsigned int>(len)) != 0) {  // 0 is success here
    failure_.Capture("bad ALPN protocol list");
    return Num(info, kError);
  }
  return Num(info, 0);
}

// setHelloPause(): the server's handshake stops at the ClientHello (handshake() returns HELLO)
// until setContext() has chosen a context by the server name the client asked for.
Napi::Value TlsConn::SetHelloPause(const Napi::CallbackInfo& info) {
  if (ssl_ == nullptr) return Num(info, -EINVAL);
  hello_pause_ = true;
  return Num(info, 0);
}

void TlsConn::Free() {
  if (ssl_ != nullptr) {
    SSL_free(ssl_);  // frees the BIO too
    ssl_ = nullptr;
  }
  ctx_ref_.Reset();
  sni_ctx_ref_.Reset();
  in_ref_.Reset();
  out_ref_.Reset();
  st_ref_.Reset();
}

int TlsConn::Status(int ret, const char* what) {
  int err = SSL_get_error(ssl_, ret);
  switch (err) {
    case SSL_ERROR_WANT_READ:
      ERR_clear_error();
      return kWantRead;
    case SSL_ERROR_WANT_WRITE:
      ERR_clear_error();
      return kWantWrite;
    case SSL_ERROR_WANT_CLIENT_HELLO_CB:
      ERR_clear_error();
      return kHello;
    case SSL_ERROR_ZERO_RETURN:
      ERR_clear_error();
      return 0;
    default:
      break;
  }
  failed_ = true;
  failure_.Capture(err == SSL_ERROR_SYSCALL ? "the connection ended during the TLS exchange" : what);
  if (ERR_GET_LIB(failure_.code) == ERR_LIB_SSL &&
      ERR_GET_REASON(failure_.code) == SSL_R_CERTIFICATE_VERIFY_FAILED) {
    failure_.verify = SSL_get_verify_result(ssl_);
  }
  return kError;
}

// setHost(name, isIp, sni): what the client verifies the server's certificate against (its DNS
// names, or its IP addresses for an IP literal), and the server name it sends (SNI) unless the
// name is an IP literal, which RFC 6066 does not allow there.
Napi::Value TlsConn::SetHost(const Napi::CallbackInfo& info) {
  if (ssl_ == nullptr || info.Length() < 3 || !info[0].IsString()) return Num(info, -EINVAL);
  std::string name = info[0].As<Napi::String>().Utf8Value();
  bool ip = info[1].ToBoolean().Value();
  bool sni = info[2].ToBoolean().Value();
  ERR_clear_error();
  if (ip) {
    if (X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl_), name.c_str()) != 1) {
      failure_.Capture("bad IP address");
      return Num(info, kError);
    }
  } else {
    SSL_set_hostflags(ssl_, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    if (SSL_set1_host(ssl_, name.c_str()) != 1) {
      failure_.Capture("bad host name");
      return Num(info, kError);
    }
    if (sni && SSL_set_tlsext_host_name(ssl_, name.c_str()) != 1) {
      failure_.Capture("bad server name");
      return Num(info, kError);
    }
  }
  return Num(info, 0);
}

// setSession(der): offers a session saved by session() from an earlier connection. A session
// that does not parse is ignored (the handshake is then a full one): 1 if used, 0 if not.
Napi::Value TlsConn::SetSession(const Napi::CallbackInfo& info) {
  const uint8_t* data;
  size_t len;
  if (ssl_ == nullptr || !ArgBytes(info, 0, &data, &len) || len > INT32_MAX) return Num(info, -EINVAL);
  ERR_clear_error();
  const unsigned char* p = data;
  SSL_SESSION* s = d2i_SSL_SESSION(nullptr, &p, static_cast<long>(len));
  if (s == nullptr) {
    ERR_clear_error();
    return Num(info, 0);
  }
  int ok = SSL_set_session(ssl_, s);
  SSL_SESSION_free(s);  // the SSL took its own reference
  ERR_clear_error();
  return Num(info, ok == 1 ? 1 : 0);
}

// setContext(ctx?): during a paused ClientHello, serve with another context (chosen by the server
// name), or with the current one when ctx is undefined. Lets the handshake go on.
Napi::Value TlsConn::SetContext(const Napi::CallbackInfo& info) {
  if (ssl_ == nullptr) return Num(info, -EINVAL);
  hello_done_ = true;
  if (info.Length() < 1 || info[0].IsUndefined() || info[0].IsNull()) return Num(info, 0);
  TlsContext* ctx = ArgContext(info, 0);
  if (ctx == nullptr) return Num(info, -EINVAL);
  ERR_clear_error();
  // It takes the other context's certificate, key and trusted store; the connection keeps its
  // own verification mode and ALPN list.
  if (SSL_set_SSL_CTX(ssl_, ctx->ctx()) == nullptr) {
    failure_.Capture("SSL_set_SSL_CTX failed");
    return Num(info, kError);
  }
  sni_ctx_ref_ = Napi::Persistent(info[0].As<Napi::Object>());
  return Num(info, 0);
}

// handshake(): 1 when done, else kWantRead, kWantWrite, kHello or kError.
Napi::Value TlsConn::Handshake(const Napi::CallbackInfo& info) {
  if (ssl_ == nullptr || failed_) return Num(info, kError);
  ERR_clear_error();
  int ret = SSL_do_handshake(ssl_);
  if (ret == 1) return Num(info, 1);
  int s = Status(ret, "handshake failed");
  if (s == 0) {
    // A close_notify during the handshake: as much a failure as a lost connection.
    failed_ = true;
    failure_.Clear();
    failure_.reason = "the peer closed the connection during the handshake";
    return Num(info, kError);
  }
  return Num(info, s);
}

// read(buf, off, len): plaintext bytes read, 0 at the end of the stream, or kWantRead,
// kWantWrite, kError.
Napi::Value TlsConn::Read(const Napi::CallbackInfo& info) {
  uint8_t* data;
  size_t len;
  if (!ArgRange(info, 0, &data, &len)) return Num(info, -EINVAL);
  if (ssl_ == nullptr || failed_) return Num(info, kError);
  if (len == 0) return Num(info, 0);
  ERR_clear_error();
  size_t got = 0;
  if (SSL_read_ex(ssl_, data, len, &got) == 1) return Num(info, static_cast<double>(got));
  return Num(info, Status(0, "read failed"));
}

// write(buf, off, len): plaintext bytes taken (one record's worth at most), or kWantWrite,
// kError. Retry with the same bytes after kWantWrite.
Napi::Value TlsConn::Write(const Napi::CallbackInfo& info) {
  uint8_t* data;
  size_t len;
  if (!ArgRange(info, 0, &data, &len)) return Num(info, -EINVAL);
  if (ssl_ == nullptr || failed_) return Num(info, kError);
  if (len == 0) return Num(info, 0);
  ERR_clear_error();
  size_t put = 0;
  if (SSL_write_ex(ssl_, data, len, &put) == 1) return Num(info, static_cast<double>(put));
  int s = Status(0, "write failed");
  return Num(info, s == 0 ? kError : s);
}

// shutdown(): queues close_notify. 0 when queued (or already sent), kWantWrite, or kError.
Napi::Value TlsConn::Shutdown(const Napi::CallbackInfo& info) {
  // After a fatal error OpenSSL must not send close_notify; before the handshake there is none.
  if (ssl_ == nullptr || failed_ || SSL_is_init_finished(ssl_) != 1) return Num(info, 0);
  ERR_clear_error();
  int ret = SSL_shutdown(ssl_);
  if (ret >= 0) {
    ERR_clear_error();
    return Num(info, 0);
  }
  int s = Status(ret, "shutdown failed");
  return Num(info, s == kWantRead ? 0 : s);
}

// info(): what the handshake settled, read once by JavaScript when it is done.
Napi::Value TlsConn::Info(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (ssl_ == nullptr) return env.Null();
  Napi::Object o = Napi::Object::New(env);
  o.Set("protocol", SSL_get_version(ssl_));
  const SSL_CIPHER* cipher = SSL_get_current_cipher(ssl_);
  o.Set("cipher", cipher != nullptr ? Napi::Value(Napi::String::New(env, SSL_CIPHER_get_name(cipher))) : env.Null());
  const unsigned char* alpn = nullptr;
  unsigned int alpn_len = 0;
  SSL_get0_alpn_selected(ssl_, &alpn, &alpn_len);
  o.Set("alpn", alpn_len > 0 ? Napi::Value(Napi::String::New(env, reinterpret_cast<const char*>(alpn), alpn_len))
                             : env.Null());
  const char* name = SSL_get_servername(ssl_, TLSEXT_NAMETYPE_host_name);
  o.Set("servername", name != nullptr ? Napi::Value(Napi::String::New(env, name)) : env.Null());
  o.Set("reused", SSL_session_reused(ssl_) == 1);
  X509* peer = SSL_get1_peer_certificate(ssl_);
  o.Set("peerCertificate", peer != nullptr);
  if (peer != nullptr) X509_free(peer);
  long verify = SSL_get_verify_result(ssl_);
  o.Set("verify", static_cast<double>(verify));
  o.Set("verifyMessage", verify != X509_V_OK ? X509_verify_cert_error_string(verify) : "");
  return o;
}

// peerCertificate(): the peer's certificate in DER, or null.
Napi::Value TlsConn::PeerCertificate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (ssl_ == nullptr) return env.Null();
  X509* peer = SSL_get1_peer_certificate(ssl_);
  if (peer == nullptr) return env.Null();
  int n = i2d_X509(peer, nullptr);
  if (n <= 0) {
    X509_free(peer);
    ERR_clear_error();
    return env.Null();
  }
  Napi::Buffer<uint8_t> der = Napi::Buffer<uint8_t>::New(env, static_cast<size_t>(n));
  unsigned char* p = der.Data();
  i2d_X509(peer, &p);
  X509_free(peer);
  return der;
}

// session(): the current session in DER, for setSession() on a later connection; null until
// there is one that can be resumed (TLS 1.3 tickets arrive after the handshake, with data).
Napi::Value TlsConn::Session(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (ssl_ == nullptr) return env.Null();
  SSL_SESSION* s = SSL_get1_session(ssl_);
  if (s == nullptr) return env.Null();
  Napi::Value result = env.Null();
  if (SSL_SESSION_is_resumable(s) == 1) {
    int n = i2d_SSL_SESSION(s, nullptr);
    if (n > 0) {
      Napi::Buffer<uint8_t> der = Napi::Buffer<uint8_t>::New(env, static_cast<size_t>(n));
      unsigned char* p = der.Data();
      i2d_SSL_SESSION(s, &p);
      result = der;
    }
  }
  SSL_SESSION_free(s);
  ERR_clear_error();
  return result;
}

// helloName(): during a paused ClientHello, the server name the client asked for ("" if none).
Napi::Value TlsConn::HelloName(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), hello_name_);
}

Napi::Value VersionInfo(Napi::Env env) {
  Napi::Object o = Napi::Object::New(env);
  bool ok = Available();
  o.Set("available", ok);
  o.Set("version", ok ? Napi::Value(Napi::String::New(env, OpenSSL_version(OPENSSL_VERSION))) : env.Null());
  o.Set("versionNumber", ok ? Napi::Value(Napi::Number::New(env, static_cast<double>(OpenSSL_version_num()))) : env.Null());
  o.Set("headerVersion", OPENSSL_VERSION_TEXT);
  return o;
}

}  // namespace

void InitTls(Napi::Env env, Napi::Object exports, AddonData* data) {
  Napi::Object tls = Napi::Object::New(env);
  Napi::Function ctx = TlsContext::Define(env);
  data->tls_context_ctor = Napi::Persistent(ctx);
  tls.Set("Context", ctx);
  tls.Set("Conn", TlsConn::Define(env));
  tls.Set("openssl", VersionInfo(env));
  tls.Set("WANT_READ", static_cast<int>(kWantRead));
  tls.Set("WANT_WRITE", static_cast<int>(kWantWrite));
  tls.Set("ERROR", static_cast<int>(kError));
  tls.Set("HELLO", static_cast<int>(kHello));
  tls.Set("IN_START", static_cast<int>(kInStart));
  tls.Set("IN_END", static_cast<int>(kInEnd));
  tls.Set("OUT_START", static_cast<int>(kOutStart));
  tls.Set("OUT_END", static_cast<int>(kOutEnd));
  tls.Set("EOF", static_cast<int>(kEof));
  tls.Set("STATE_LENGTH", static_cast<int>(kStateLength));
  tls.Set("VERIFY_NONE", static_cast<int>(kVerifyNone));
  tls.Set("VERIFY_PEER", static_cast<int>(kVerifyPeer));
  tls.Set("VERIFY_REQUIRE", static_cast<int>(kVerifyRequire));
  tls.Set("VERIFY_REQUEST", static_cast<int>(kVerifyRequest));
  tls.Set("TLS1_2_VERSION", TLS1_2_VERSION);
  tls.Set("TLS1_3_VERSION", TLS1_3_VERSION);
  tls.Set("X509_V_OK", X509_V_OK);
  Napi::Object names = Napi::Object::New(env);
#define X(name) names.Set(static_cast<uint32_t>(X509_V_ERR_##name), #name);
  ASYNCORO_VERIFY_ERRORS(X)
#undef X
  tls.Set("verifyNames", names);
  exports.Set("tls", tls);
}

}  // namespace asyncoro
