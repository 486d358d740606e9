// Socket addresses as they cross the boundary: a kRingAddrBytes (sockaddr_storage) buffer that
// sockaddr() fills once and the socket calls and completion backends read and write. An abstract
// Unix name (Linux, leading NUL) keeps its length in the buffer's last byte. Pure C++: the
// completion backends include it without node-addon-api.
#ifndef ASYNCORO_ADDR_H_
#define ASYNCORO_ADDR_H_

#include <cstddef>
#include <cstdint>

namespace asyncoro {

// The socklen of an address encoded in a buffer of n bytes, or 0 when it is not one.
size_t EncodedAddrLen(const uint8_t* bytes, size_t n);

// Writes the address the kernel returned (sa, salen bytes) into out (kRingAddrBytes) in that
// encoding: the rest zeroed, an abstract Unix name's length in the last byte.
void EncodeKernelAddr(uint8_t* out, const void* sa, size_t salen);

}  // namespace asyncoro

#endif  // ASYNCORO_ADDR_H_
