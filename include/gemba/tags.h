/*
 * The tag registry: every asset of the ISA-95 hierarchy (enterprise / site / area / line /
 * machine) and every tag, with dense numeric ids for the hot path and lookup by path for
 * people. Built once from the plant file, then shared read-only between threads.
 *
 * Paths: an asset is "site/area/line/machine" (prefixed by the enterprise when the plant file
 * names one), a tag is "<machine path>/<tag>". Machine names are unique in a plant, so the short
 * form "machine/tag" finds a tag too.
 */
#ifndef GEMBA_TAGS_H
#define GEMBA_TAGS_H

#include "gemba/sample.h"

#include <stdbool.h>
#include <stdint.h>

#define GB_NONE UINT32_MAX

typedef enum {
    GB_ASSET_ENTERPRISE,
    GB_ASSET_SITE,
    GB_ASSET_AREA,
    GB_ASSET_LINE,
    GB_ASSET_MACHINE
} gb_asset_kind_t;

typedef struct gb_asset {
    uint32_t id;
    gb_asset_kind_t kind;
    uint32_t parent; /* GB_NONE for the root */
    char *name;      /* owned */
    char *path;      /* owned */
} gb_asset_t;

typedef struct gb_tag {
    uint32_t id;
    uint32_t machine; /* asset id */
    char *name;       /* owned, e.g. "spindle_load" */
    char *path;       /* owned, full path */
    gb_vtype_t type;
    char *unit;       /* owned, may be NULL */
    double scale;     /* engineering value = raw * scale + offset (float tags) */
    double offset;
    double deadband;  /* absolute; 0 = every change is kept */
    uint32_t adapter; /* index of the plant's adapter, GB_NONE when none */
    char *address;    /* owned, the source address in the adapter's terms */
    bool derived;     /* gemba's own result (e.g. "oee.state"), not a signal of the machine */
} gb_tag_t;

/* The per-machine tags gemba derives and stores; plant tags may not start with "oee.". */
#define GB_DERIVED_PREFIX "oee."

typedef struct gb_tags gb_tags_t;

gb_tags_t *gb_tags_new(void);
void gb_tags_free(gb_tags_t *r);

/*
 * Adds an asset named NAME under PARENT (GB_NONE for a root). *ID gets its id.
 * Returns 0, GB_EINVAL for a bad name, GB_EEXIST when the path is taken.
 */
int gb_tags_add_asset(gb_tags_t *r, gb_asset_kind_t kind, uint32_t parent, const char *name,
                      uint32_t *id);

/*
 * Adds a copy of TAG (its id, path and machine are set here) under machine asset MACHINE.
 * *ID gets the new id. Returns 0, GB_EINVAL, or GB_EEXIST when the machine has the tag already.
 */
int gb_tags_add(gb_tags_t *r, uint32_t machine, const gb_tag_t *tag, uint32_t *id);

uint32_t gb_tags_count(const gb_tags_t *r);
uint32_t gb_tags_asset_count(const gb_tags_t *r);

/* By id; NULL when out of range. */
const gb_tag_t *gb_tags_get(const gb_tags_t *r, uint32_t id);
const gb_asset_t *gb_tags_asset(const gb_tags_t *r, uint32_t id);

/* By full path or "machine/tag"; NULL when unknown. */
const gb_tag_t *gb_tags_find(const gb_tags_t *r, const char *path);

/* By full asset path, else by machine name alone; NULL when unknown. */
const gb_asset_t *gb_tags_find_asset(const gb_tags_t *r, const char *path);

#endif
