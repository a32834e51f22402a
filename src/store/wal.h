/*
 * The write-ahead log, the durable front of the store: numbered segment files in DATA/wal
 * (00000001.wal, 00000002.wal, ...), each a header followed by framed records
 *   u32 payload length | u32 CRC-32 of the payload | payload
 * The store decides what a payload holds; the log only frames, buffers, syncs and replays.
 *
 * Segments let the log shrink: once the store has written everything of segments up to N into a
 * block file, it drops them. Each segment is self-contained (the store declares in a segment every
 * series it uses there), so any suffix of segments replays on its own.
 *
 * Durability: appends go to a user-space buffer, written out when it fills and synced every sync
 * interval (by the writer thread, in the background) and by gb_wal_sync (in the caller). A failed
 * write (a full disk) keeps what could not be written in the buffer and reports GB_ENOSPC /
 * GB_EIO; the caller refuses new data until a write succeeds.
 * Not thread-safe: the store serialises calls (gb_wal_rotate_finish and gb_wal_remove aside).
 */
#ifndef GB_STORE_WAL_H
#define GB_STORE_WAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GB_WAL_REC_MAX (64u << 20) /* the longest payload a record may have */

typedef struct gb_wal gb_wal_t;

/* Called for each good record of each replayed segment, in order. Non-zero stops the replay. */
typedef int (*gb_wal_record_fn)(void *ctx, uint64_t seq, const unsigned char *payload, size_t len);

/*
 * Opens the log in DIR (created when missing), replaying every record of the segments numbered
 * above AFTER through EACH (may be NULL). With READONLY, nothing is created, locked, cut or
 * written: the log of a running daemon can be read. Otherwise the directory is locked against a
 * second writer, a torn tail of the last segment (an interrupted write) is cut off (logged), and
 * appends go to the last segment (or a new one after AFTER). Returns 0, GB_EIO (logged), GB_EBUSY
 * (another process holds the lock) or GB_EPROTO (a file that is not a gemba log).
 */
int gb_wal_open(const char *dir, uint64_t after, bool readonly, gb_wal_record_fn each, void *ctx,
                gb_wal_t **out);
void gb_wal_close(gb_wal_t *w); /* syncs first; NULL is fine */

/* Sets how many bytes are buffered before they are written out (default 1 MiB). */
void gb_wal_set_buffer(gb_wal_t *w, size_t bytes);

/* Reserves LEN bytes of payload for a new record at the end of the buffer; fill it, then seal. */
unsigned char *gb_wal_reserve(gb_wal_t *w, size_t len);
/* Frames the record reserved last, now LEN bytes long (at most what was reserved). */
void gb_wal_seal(gb_wal_t *w, size_t len);

/* Writes the buffer out when it is over its size; 0 or GB_ENOSPC / GB_EIO. */
int gb_wal_flush_if_full(gb_wal_t *w);
/* Writes out and syncs; 0 or GB_ENOSPC / GB_EIO. */
int gb_wal_sync(gb_wal_t *w);
/*
 * Syncs when INTERVAL_NS has passed since the last sync: the writer thread writes the buffer and
 * syncs, and the caller does not wait for the disk. After a refused write or sync, it syncs in
 * the caller instead, and returns the outcome (0 or GB_ENOSPC / GB_EIO).
 */
int gb_wal_tick(gb_wal_t *w, int64_t interval_ns);
/* Bytes buffered but not written yet. */
size_t gb_wal_pending(const gb_wal_t *w);

/*
 * Starts the next segment; *CLOSED gets the number of the one closed. The quick half, under the
 * caller's lock: the buffer is written out and appends go to the new segment. The slow half,
 * gb_wal_rotate_finish, syncs the closed segment, the new one's header and the directory, and may
 * run without the caller's lock (one thread at a time, before the next rotation); a gb_wal_sync
 * meanwhile waits for it. 0, or GB_ENOSPC / GB_EIO.
 */
int gb_wal_rotate(gb_wal_t *w, uint64_t *closed);
int gb_wal_rotate_finish(gb_wal_t *w);
/*
 * Forgets the segments numbered up to SEQ (their data is in block files) and returns their paths
 * (NULL-terminated; NULL when none) for gb_wal_remove, which deletes the files and may run
 * without the caller's lock: unlinking a large file takes milliseconds.
 */
char **gb_wal_drop(gb_wal_t *w, uint64_t seq);
void gb_wal_remove(char **gone);

/* Creates DIR and its missing parents (mode 0750). 0, or -1 with errno set. */
int gb_mkdirs(const char *dir);

/* The number of the segment appends go to. */
uint64_t gb_wal_current(const gb_wal_t *w);

typedef struct gb_wal_info {
    uint64_t segments, bytes, torn_bytes;
} gb_wal_info_t;
void gb_wal_info(const gb_wal_t *w, gb_wal_info_t *out);

#endif
