/* digest_cli - placeholder until `klaxon digest` lands (issue 5, in progress). */
#include "digest.h"

#include <stdio.h>

int digest_main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "klaxon digest: not built yet\n");
	return 2;
}
