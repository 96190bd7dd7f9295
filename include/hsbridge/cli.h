/* cli: the commands of DESIGN section 6. */
#ifndef HSBRIDGE_CLI_H
#define HSBRIDGE_CLI_H

/* Parses the arguments, runs one command and returns its exit code
 * (sysexits: 0, 64, 65, 69, 75, 78). */
int cli_main(int argc, char **argv);

#endif
