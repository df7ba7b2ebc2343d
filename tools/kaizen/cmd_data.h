/* `kaizen data` subcommands other than vocab (cmd_data_vocab.h). argv starts
 * at the subcommand's name; each returns the exit code (0, 1 failure, 2 usage). */
#ifndef KZ_TOOLS_CMD_DATA_H
#define KZ_TOOLS_CMD_DATA_H

int kz_cmd_data_import(int argc, char **argv);
int kz_cmd_data_inspect(int argc, char **argv);

#endif
