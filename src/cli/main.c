/* sluice: a high-throughput LLM gateway. This file only dispatches to the
 * subcommands in src/cli/cmd_*.c. */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "cli/args.h"
#include "cli/commands.h"

#define SLUICE_VERSION "0.1.0"

static const char usage[] =
    "usage: sluice COMMAND [options]\n"
    "\n"
    "commands:\n"
    "  simulate   simulate a high-traffic LLM gateway end to end (mock requests,\n"
    "             concurrency limit, flaky processor, retries, persistence, analytics)\n"
    "  stats      analytics of a recorded run, from the database\n"
    "  report     one self-contained HTML page of charts of a recorded run\n"
    "  migrate    apply or revert schema migrations (up [N] | down [N] | status)\n"
    "  serve      the OpenAI-compatible LLM gateway\n"
    "  mock       a flaky OpenAI-compatible upstream to develop and test against\n"
    "  load       HTTP load generator: throughput, status counts, latency percentiles\n"
    "             (closed loop or fixed rate; time to first token when streaming)\n"
    "  keys       manage virtual keys in the database (create, list, show, update,\n"
    "             rotate, revoke, usage)\n"
    "  tokens     count tokens as OpenAI's tiktoken does (or a request's prompt tokens)\n"
    "  version    print the version\n"
    "\n"
    "Run 'sluice COMMAND --help' for the options of a command.\n";

int main(int argc, char **argv)
{
    /* A peer that closed its socket must be an error on that write (EPIPE),
     * never a signal that kills the whole gateway. */
    signal(SIGPIPE, SIG_IGN);
    if (argc < 2) {
        fputs(usage, stderr);
        return SL_EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "simulate") == 0)
        return sl_cmd_simulate(argc - 2, argv + 2);
    if (strcmp(cmd, "stats") == 0)
        return sl_cmd_stats(argc - 2, argv + 2);
    if (strcmp(cmd, "report") == 0)
        return sl_cmd_report(argc - 2, argv + 2);
    if (strcmp(cmd, "migrate") == 0)
        return sl_cmd_migrate(argc - 2, argv + 2);
    if (strcmp(cmd, "mock") == 0)
        return sl_cmd_mock(argc - 2, argv + 2);
    if (strcmp(cmd, "serve") == 0)
        return sl_cmd_serve(argc - 2, argv + 2);
    if (strcmp(cmd, "load") == 0)
        return sl_cmd_load(argc - 2, argv + 2);
    if (strcmp(cmd, "keys") == 0)
        return sl_cmd_keys(argc - 2, argv + 2);
    if (strcmp(cmd, "tokens") == 0)
        return sl_cmd_tokens(argc - 2, argv + 2);
    if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
        printf("sluice %s\n", SLUICE_VERSION);
        return SL_EXIT_OK;
    }
    if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
        fputs(usage, stdout);
        return SL_EXIT_OK;
    }
    fprintf(stderr, "sluice: unknown command '%s' (see 'sluice --help')\n", cmd);
    return SL_EXIT_USAGE;
}
