/* gemba token create: a new API token, printed once. */
#include "cli/cli.h"
#include "gemba/auth.h"
#include "gemba/error.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int gb_cmd_token(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "create"))
        return gb_cli_usage_error("token", "expected: gemba token create [--data DIR] [--id NAME]");
    const char *data = "./gemba-data", *id = NULL;
    static const struct option opts[] = {{"data", required_argument, NULL, 'd'},
                                         {"id", required_argument, NULL, 'i'},
                                         {NULL, 0, NULL, 0}};
    opterr = 0;
    optind = 2;
    int c;
    while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
        if (c == 'd') data = optarg;
        else if (c == 'i') id = optarg;
        else if (c == ':') return gb_cli_usage_error("token", "option '%s' needs a value", argv[optind - 1]);
        else return gb_cli_usage_error("token", "unknown option '%s'", argv[optind - 1]);
    }
    if (optind < argc) return gb_cli_usage_error("token", "unexpected argument '%s'", argv[optind]);
    char *token = NULL, name[32];
    int rc;
    if (id) {
        rc = gb_auth_create(data, id, &token);
        if (rc == GB_EINVAL)
            return gb_cli_usage_error("token", "'%s' is not a free token name (letters, digits, "
                                               "'-' and '.', no '_', at most 31)", id);
    } else {
        rc = GB_EINVAL;
        for (int n = 2; n < 1000 && rc == GB_EINVAL; n++) { /* admin-1 is the first start's */
            snprintf(name, sizeof name, "admin-%d", n);
            rc = gb_auth_create(data, name, &token);
        }
    }
    if (rc) {
        fprintf(stderr, "gemba token: cannot add a token to %s/auth/tokens\n", data);
        return GB_EXIT_FAIL;
    }
    printf("%s\n", token);
    fprintf(stderr, "gemba token: added; this is the only time it is shown. Send it as "
                    "'Authorization: Bearer <token>'; a running daemon takes it at its next start.\n");
    free(token);
    return GB_EXIT_OK;
}
