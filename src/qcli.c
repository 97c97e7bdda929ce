/* qcli - placeholder until `klaxon quarantine` lands (issue 5, in progress). */
#include "qcli.h"

#include <stdio.h>

int qcli_main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "klaxon quarantine: not built yet\n");
	return 2;
}
