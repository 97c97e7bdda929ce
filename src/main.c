/*
 * main - argument parsing and subcommand dispatch, nothing else.
 */
#include <clamav.h>
#include <getopt.h>
#include <libmilter/mfapi.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "config.h"
#include "daemon.h"
#include "digest.h"
#include "filter.h"
#include "filter_api.h"
#include "qcli.h"

static void main_usage(FILE *fp)
{
	fprintf(fp, "usage: klaxon serve [--config FILE] [--foreground]\n"
		    "       klaxon check [--config FILE] --client-ip IP --from ADDR --rcpt ADDR [--json] FILE\n"
		    "       klaxon config [--config FILE] --dump | --reference\n"
		    "       klaxon reload [--config FILE]\n"
		    "       klaxon filter --test FILE.lua\n"
		    "       klaxon quarantine [--config FILE] list|show|release|delete|expire|reindex|stats ...\n"
		    "       klaxon digest [--config FILE] [--since 24h] [--rcpt ADDR] [--send | --stdout]\n"
		    "       klaxon version\n"
		    "Without --config, the built-in defaults apply (see `klaxon config --dump`).\n");
}

/* main_common - the options serve, config and reload share */
static int main_common(int argc, char **argv, const char **config, bool *foreground, bool *dump, bool *ref)
{
	static const struct option longopts[] = {
		{"config", required_argument, NULL, 'c'}, {"foreground", no_argument, NULL, 'f'},
		{"dump", no_argument, NULL, 'd'}, {"reference", no_argument, NULL, 'r'},
		{NULL, 0, NULL, 0},
	};
	int c;
	while ((c = getopt_long(argc, argv, "c:fdr", longopts, NULL)) != -1) {
		switch (c) {
		case 'c': *config = optarg; break;
		case 'f': *foreground = true; break;
		case 'd': *dump = true; break;
		case 'r': *ref = true; break;
		default: return -1;
		}
	}
	return optind == argc ? 0 : -1;
}

static int main_config(const char *path, bool dump, bool ref)
{
	if (ref) {
		config_reference(stdout);
		return 0;
	}
	if (!dump)
		return 2;
	struct config *cfg;
	char err[1024];
	if (config_load(path, &cfg, err, sizeof(err)) == -1) {
		fprintf(stderr, "klaxon: %s\n", err);
		return 1;
	}
	config_dump(cfg, stdout);
	config_free(cfg);
	return 0;
}

static int main_version(void)
{
	unsigned major, minor, patch;
	smfi_version(&major, &minor, &patch);
	printf("klaxon %s (libclamav %s, libmilter %u.%u.%u)\n", KLAXON_VERSION, cl_retver(), major, minor, patch);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		main_usage(stderr);
		return 2;
	}
	const char *cmd = argv[1];
	if (strcmp(cmd, "check") == 0)
		return check_main(argc - 1, argv + 1);
	if (strcmp(cmd, "filter") == 0) {
		/* The daemon's own API, so a filter that misuses it at load time fails here too. */
		struct filter_opts opts = {.funcs = filter_api_funcs};
		return filter_test_run(argc - 1, argv + 1, &opts, stdout, stderr);
	}
	if (strcmp(cmd, "quarantine") == 0)
		return qcli_main(argc - 1, argv + 1);
	if (strcmp(cmd, "digest") == 0)
		return digest_main(argc - 1, argv + 1);
	if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0)
		return main_version();
	if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0) {
		main_usage(stdout);
		return 0;
	}

	const char *config = NULL;
	bool foreground = false, dump = false, ref = false;
	if (main_common(argc - 1, argv + 1, &config, &foreground, &dump, &ref) == -1) {
		main_usage(stderr);
		return 2;
	}
	int rc = 2;
	if (strcmp(cmd, "serve") == 0)
		rc = daemon_serve(config, foreground);
	else if (strcmp(cmd, "reload") == 0)
		rc = daemon_reload(config);
	else if (strcmp(cmd, "config") == 0)
		rc = main_config(config, dump, ref);
	if (rc == 2)
		main_usage(stderr);
	return rc;
}
