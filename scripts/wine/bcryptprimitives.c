/*
 * Test tooling for scripts/platform-win32.sh, never shipped: bcryptprimitives.dll for wine 8.
 *
 * esbuild.exe (which tsx runs to compile the tests) is a Go program, and Go 1.22+ runtimes load
 * ProcessPrng from bcryptprimitives.dll at start-up (Windows 8 and later have it). Debian 12's
 * wine 8.0 has no such DLL, so esbuild dies before main. This DLL provides the one function with
 * the documented signature, over BCryptGenRandom with the system-preferred RNG, which wine has.
 * The platform script installs it into its own wine prefix's system32 (Go loads it from there).
 */
#include <windows.h>
#include <bcrypt.h>

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len) {
  while (len > 0) {
    ULONG chunk = len > 0x40000000 ? 0x40000000 : (ULONG)len;
    if (BCryptGenRandom(NULL, data, chunk, BCRYPT_USE_SYSTEM_PREFERRED_RNG) != 0) return FALSE;
    data += chunk;
    len -= chunk;
  }
  return TRUE;
}
