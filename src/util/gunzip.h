/*
 * gzip (RFC 1952) bodies, as InfluxDB clients send line protocol with Content-Encoding: gzip.
 */
#ifndef GB_UTIL_GUNZIP_H
#define GB_UTIL_GUNZIP_H

#include <stddef.h>

/*
 * Decompresses the N bytes at IN -- one gzip member or several one after another, as gzip(1)
 * and Go's reader take them -- into *OUT (malloc'd, NUL-terminated, the caller frees it) of
 * *OUTLEN bytes. 0; GB_EPROTO when IN is not gzip or is damaged (a bad header, checksum or
 * length, bytes after the last member, or nothing at all); GB_ERANGE when the text is longer
 * than MAX bytes (it is not made whole, so a small body cannot make a huge one); GB_ENOMEM.
 */
int gb_gunzip(const void *in, size_t n, size_t max, char **out, size_t *outlen);

#endif
