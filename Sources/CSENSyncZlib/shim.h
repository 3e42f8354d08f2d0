#ifndef CSENSYNC_ZLIB_SHIM_H
#define CSENSYNC_ZLIB_SHIM_H

#include <zlib.h>

/// `deflateInit2` and `inflateInit` are macros, which Swift cannot import.
static inline int csensync_deflateInit2(z_streamp strm, int level, int method, int windowBits,
                                        int memLevel, int strategy) {
    return deflateInit2(strm, level, method, windowBits, memLevel, strategy);
}

static inline int csensync_inflateInit(z_streamp strm) {
    return inflateInit(strm);
}

#endif
