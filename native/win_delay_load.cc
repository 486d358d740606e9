// Windows only: lets the addon find Node's N-API and libuv functions in whatever executable
// loaded it.
//
// A .node file is a DLL whose imports name the DLL they come from. Node's functions are exported
// by the executable, so the import library made from node.exe names "node.exe", and a renamed
// executable (or an embedder) would make the addon fail to load. The imports are therefore
// delay-loaded (scripts/build-win32.sh links a delay-import library), and this hook answers the
// delay-load helper's "load node.exe" with the module of the running process itself.
#if defined(_WIN32)
#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#include <windows.h>
#include <delayimp.h>

#include <cstring>

namespace {

FARPROC WINAPI LoadHook(unsigned event, PDelayLoadInfo info) {
  if (event != dliNotePreLoadLibrary || info == nullptr || info->szDll == nullptr) return nullptr;
  if (_stricmp(info->szDll, "node.exe") != 0) return nullptr;
  return reinterpret_cast<FARPROC>(GetModuleHandleW(nullptr));
}

}  // namespace

// The delay-load helper reads this hook (mingw-w64's delayimp and MSVC's alike); delayimp.h
// declares it with C linkage.
PfnDliHook __pfnDliNotifyHook2 = LoadHook;
#endif
