/* `kaizen data vocab`: trains a WordPiece vocabulary. Dispatched by the
 * `data` command (cmd_data.c); argv starts at "vocab". Returns the exit code
 * (0 success, 1 failure, 2 usage error). */
#ifndef KZ_TOOLS_CMD_DATA_VOCAB_H
#define KZ_TOOLS_CMD_DATA_VOCAB_H

int kz_cmd_data_vocab(int argc, char **argv);

#endif
