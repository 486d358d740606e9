// Keeps the prebuilt binary loadable wherever Node itself loads.
//
// GCC 11 and later expand std::vector's allocation path (in headers) into a call to
// std::__throw_bad_array_new_length(), which libstdc++ exports only under the symbol version
// GLIBCXX_3.4.29. Node 20's official binary needs no more than GLIBCXX_3.4.21, so a reference to
// that symbol would make our addon fail to load on systems whose libstdc++ is as old as Node
// allows. This hidden definition satisfies the reference inside the addon, so none is left for
// the dynamic linker. It throws std::bad_alloc, the base class of std::bad_array_new_length, which
// exists in every libstdc++ version. CI checks the floor with objdump -T.
#include <new>  // defines __GLIBCXX__ when the library is libstdc++

// Not on Windows: the mingw-w64 build links libstdc++ statically, which defines the symbol itself.
#if defined(__GLIBCXX__) && !defined(_WIN32)
namespace std {
[[noreturn]] __attribute__((visibility("hidden"))) void __throw_bad_array_new_length() {
  throw std::bad_alloc();
}
}  // namespace std
#endif
