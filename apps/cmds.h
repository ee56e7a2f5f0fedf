/* cmds.h - the subcommands of the trailstream binary; argv[0] is the subcommand name. */
#ifndef TS_APP_CMDS_H
#define TS_APP_CMDS_H

int ts_cmd_serve(int argc, char **argv);
int ts_cmd_check_config(int argc, char **argv);
int ts_cmd_import(int argc, char **argv);

#endif
