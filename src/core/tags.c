/*
 * The tag registry. Assets and tags live in growable arrays indexed by id; two string maps give
 * lookup by path. Immutable once built, so readers on any thread need no lock.
 */
#include "gemba/tags.h"
#include "gemba/error.h"
#include "util/map.h"
#include "util/str.h"

#include <stdlib.h>
#include <string.h>

struct gb_tags {
    gb_asset_t *assets;
    uint32_t nassets, cap_assets;
    gb_tag_t *tags;
    uint32_t ntags, cap_tags;
    gb_map_t asset_by_path; /* full path */
    gb_map_t machine_by_name; /* machine name alone (unique in a plant) */
    gb_map_t tag_by_path;   /* full path, and "machine/tag" */
};

gb_tags_t *gb_tags_new(void)
{
    gb_tags_t *r = gb_xcalloc(1, sizeof *r);
    gb_map_init(&r->asset_by_path);
    gb_map_init(&r->machine_by_name);
    gb_map_init(&r->tag_by_path);
    return r;
}

void gb_tags_free(gb_tags_t *r)
{
    if (!r) return;
    for (uint32_t i = 0; i < r->nassets; i++) {
        free(r->assets[i].name);
        free(r->assets[i].path);
    }
    for (uint32_t i = 0; i < r->ntags; i++) {
        free(r->tags[i].name);
        free(r->tags[i].path);
        free(r->tags[i].unit);
        free(r->tags[i].address);
    }
    free(r->assets);
    free(r->tags);
    gb_map_clear(&r->asset_by_path);
    gb_map_clear(&r->machine_by_name);
    gb_map_clear(&r->tag_by_path);
    free(r);
}

int gb_tags_add_asset(gb_tags_t *r, gb_asset_kind_t kind, uint32_t parent, const char *name,
                      uint32_t *id)
{
    if (!gb_name_valid(name) || (parent != GB_NONE && parent >= r->nassets)) return GB_EINVAL;
    char *path = parent == GB_NONE ? gb_xstrdup(name)
                                   : gb_xasprintf("%s/%s", r->assets[parent].path, name);
    uint32_t nid = r->nassets, other;
    /* machine names are unique in the plant: they are also keys on their own */
    if ((kind == GB_ASSET_MACHINE && gb_map_get(&r->machine_by_name, name, &other)) ||
        !gb_map_put(&r->asset_by_path, path, nid)) {
        free(path);
        return GB_EEXIST;
    }
    if (kind == GB_ASSET_MACHINE) gb_map_put(&r->machine_by_name, name, nid);
    if (r->nassets == r->cap_assets) {
        r->cap_assets = r->cap_assets ? r->cap_assets * 2 : 16;
        r->assets = gb_xrealloc(r->assets, r->cap_assets * sizeof *r->assets);
    }
    r->assets[nid] = (gb_asset_t){nid, kind, parent, gb_xstrdup(name), path};
    r->nassets++;
    if (id) *id = nid;
    return 0;
}

int gb_tags_add(gb_tags_t *r, uint32_t machine, const gb_tag_t *tag, uint32_t *id)
{
    if (machine >= r->nassets || r->assets[machine].kind != GB_ASSET_MACHINE ||
        !gb_name_valid(tag->name))
        return GB_EINVAL;
    const gb_asset_t *m = &r->assets[machine];
    char *path = gb_xasprintf("%s/%s", m->path, tag->name);
    char *shortp = gb_xasprintf("%s/%s", m->name, tag->name);
    uint32_t nid = r->ntags;
    int rc = GB_EEXIST;
    if (!gb_map_put(&r->tag_by_path, path, nid)) goto out;
    /* the short form can only collide if the full one did, as machine names are unique */
    gb_map_put(&r->tag_by_path, shortp, nid);
    if (r->ntags == r->cap_tags) {
        r->cap_tags = r->cap_tags ? r->cap_tags * 2 : 64;
        r->tags = gb_xrealloc(r->tags, r->cap_tags * sizeof *r->tags);
    }
    gb_tag_t *t = &r->tags[nid];
    *t = *tag;
    t->id = nid;
    t->machine = machine;
    t->name = gb_xstrdup(tag->name);
    t->path = path;
    path = NULL;
    t->unit = tag->unit ? gb_xstrdup(tag->unit) : NULL;
    t->address = tag->address ? gb_xstrdup(tag->address) : NULL;
    if (t->scale == 0) t->scale = 1;
    r->ntags++;
    if (id) *id = nid;
    rc = 0;
out:
    free(path);
    free(shortp);
    return rc;
}

uint32_t gb_tags_count(const gb_tags_t *r)
{
    return r->ntags;
}

uint32_t gb_tags_asset_count(const gb_tags_t *r)
{
    return r->nassets;
}

const gb_tag_t *gb_tags_get(const gb_tags_t *r, uint32_t id)
{
    return id < r->ntags ? &r->tags[id] : NULL;
}

const gb_asset_t *gb_tags_asset(const gb_tags_t *r, uint32_t id)
{
    return id < r->nassets ? &r->assets[id] : NULL;
}

const gb_tag_t *gb_tags_find(const gb_tags_t *r, const char *path)
{
    uint32_t id;
    return gb_map_get(&r->tag_by_path, path, &id) ? &r->tags[id] : NULL;
}

const gb_asset_t *gb_tags_find_asset(const gb_tags_t *r, const char *path)
{
    uint32_t id;
    if (gb_map_get(&r->asset_by_path, path, &id) || gb_map_get(&r->machine_by_name, path, &id))
        return &r->assets[id];
    return NULL;
}
