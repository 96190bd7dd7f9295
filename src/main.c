/* main: keeps secrets out of core dumps, then hands over to the command
 * line. */
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>

#include "hsbridge/cli.h"

/* A core dump holds every secret the process read (webhook secrets, the
 * broker and management passwords). Before anything is read, the process
 * is made non-dumpable (which also keeps other processes of the same user
 * from attaching or reading its memory) and its core size limit is set to
 * 0, unless the operator opts in with HSBRIDGE_ALLOW_CORE_DUMPS=1 to debug
 * a crash. */
static void forbid_core_dumps(void)
{
	const char *allow = getenv("HSBRIDGE_ALLOW_CORE_DUMPS");
	struct rlimit none = {0, 0};

	if (allow && strcmp(allow, "1") == 0)
		return;
	(void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	(void)setrlimit(RLIMIT_CORE, &none);
}

int main(int argc, char **argv)
{
	forbid_core_dumps();
	return cli_main(argc, argv);
}
