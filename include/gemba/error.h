/*
 * gemba error codes. Every function that can fail returns int: 0 on success or one of the
 * negative GB_E* codes below; results travel through out-parameters. gb_strerror() gives text.
 */
#ifndef GEMBA_ERROR_H
#define GEMBA_ERROR_H

enum {
    GB_OK = 0,
    GB_ENOMEM = -1,    /* an allocation sized by input failed */
    GB_EINVAL = -2,    /* bad argument or bad input */
    GB_EPROTO = -3,    /* malformed bytes from a peer or a file */
    GB_EIO = -4,       /* an operating-system I/O call failed */
    GB_ENOENT = -5,    /* no such thing (file, tag, asset) */
    GB_EEXIST = -6,    /* already exists */
    GB_EBUSY = -7,     /* a bounded queue is full: back off and retry (push-back) */
    GB_ECLOSED = -8,   /* the object is shutting down and takes no more work */
    GB_ERANGE = -9,    /* a value is outside its allowed range or a configured limit */
    GB_ENOSPC = -10,   /* the disk is full */
    GB_ETIMEDOUT = -11, /* a deadline passed */
    GB_EACCES = -12     /* not allowed (by configuration or by role) */
};

/* Returns a static English description of a GB_E* code (or "unknown error"). */
const char *gb_strerror(int err);

#endif
