/* gemba check-config: load each plant file exactly as serve would, report every problem. */
#include "cli/cli.h"
#include "gemba/plant.h"

#include <stdio.h>

int gb_cmd_check_config(int argc, char **argv)
{
    if (argc < 2) return gb_cli_usage_error("check-config", "needs a plant file to check");
    int rc = GB_EXIT_OK;
    for (int i = 1; i < argc; i++) {
        if (argv[i][0] == '-' && argv[i][1])
            return gb_cli_usage_error("check-config", "unknown option '%s'", argv[i]);
    }
    for (int i = 1; i < argc; i++) {
        gb_diag_t d;
        gb_diag_init(&d, argv[i]);
        gb_plant_t *p;
        if (gb_plant_load_file(argv[i], &p, &d) == 0) {
            size_t ntags = 0;
            for (size_t m = 0; m < p->nmachines; m++) ntags += p->machines[m].ntags;
            printf("%s: ok: site %s, %zu areas, %zu lines, %zu machines, %zu tags, %zu adapters, "
                   "%zu shifts, %zu reasons\n",
                   argv[i], p->site, p->nareas, p->nlines, p->nmachines, ntags, p->nadapters,
                   p->nshifts, p->nreasons);
            gb_plant_free(p);
        } else {
            gb_diag_print(&d, stderr);
            rc = GB_EXIT_USAGE;
        }
        gb_diag_clear(&d);
    }
    return rc;
}
