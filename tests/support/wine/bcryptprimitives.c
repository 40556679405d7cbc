/* Wine 8.0 (Debian 12) has no bcryptprimitives.dll, which Rust's standard library imports on
 * Windows for ProcessPrng (its random numbers: HashMap seeds). Windows 10 and later have it.
 * This stand-in, for the Wine smoke test only, forwards to RtlGenRandom (advapi32's
 * SystemFunction036), which Wine has. It is never shipped. */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len) {
    while (len > 0) {
        ULONG chunk = len > 0x10000000 ? 0x10000000 : (ULONG)len;
        if (!SystemFunction036(data, chunk)) {
            return FALSE;
        }
        data += chunk;
        len -= chunk;
    }
    return TRUE;
}
