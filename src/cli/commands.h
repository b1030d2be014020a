/* The subcommands: each parses its own arguments and returns the process
 * exit status (0 ok, 1 runtime error, 2 usage error, 130 interrupted). */
#ifndef SL_COMMANDS_H
#define SL_COMMANDS_H

int sl_cmd_simulate(int argc, char **argv);
int sl_cmd_stats(int argc, char **argv);
int sl_cmd_migrate(int argc, char **argv);
int sl_cmd_mock(int argc, char **argv);
int sl_cmd_serve(int argc, char **argv);
int sl_cmd_load(int argc, char **argv);
int sl_cmd_tokens(int argc, char **argv);
int sl_cmd_keys(int argc, char **argv);
int sl_cmd_report(int argc, char **argv);

#define SL_DEFAULT_DB "sluice.db"

#endif
