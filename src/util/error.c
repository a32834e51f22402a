/* Text for gemba's error codes. */
#include "gemba/error.h"

const char *gb_strerror(int err)
{
    switch (err) {
    case GB_OK: return "success";
    case GB_ENOMEM: return "out of memory";
    case GB_EINVAL: return "invalid argument or input";
    case GB_EPROTO: return "malformed data";
    case GB_EIO: return "input/output error";
    case GB_ENOENT: return "not found";
    case GB_EEXIST: return "already exists";
    case GB_EBUSY: return "queue full, retry later";
    case GB_ECLOSED: return "shutting down";
    case GB_ERANGE: return "value out of range";
    case GB_ENOSPC: return "no space left on device";
    case GB_ETIMEDOUT: return "timed out";
    case GB_EACCES: return "not allowed";
    }
    return "unknown error";
}
