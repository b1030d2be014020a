/* Command-line parsing helpers shared by the commands.
 *
 * Every parse error prints one line, "sluice CMD: reason (see 'sluice CMD
 * --help')", and the command exits with status 2. */
#ifndef SL_ARGS_H
#define SL_ARGS_H

#include <stdint.h>

#define SL_EXIT_OK          0
#define SL_EXIT_RUNTIME     1
#define SL_EXIT_USAGE       2
#define SL_EXIT_INTERRUPTED 130

struct sl_flag {
    const char *name; /* "--requests" */
    int takes_value;
    int id;
};

/* Iterates over argv[*i...]. Returns the id of the next flag (with *value
 * set when it takes one; "--flag=value" and "--flag value" both work), 0 at
 * the end, or -1 after printing a usage error (unknown flag, missing
 * value). Positional arguments are returned with id 'P' in *value when
 * allow_positional is set. */
int sl_args_next(int argc, char **argv, int *i, const struct sl_flag *flags, const char *cmd,
                 int allow_positional, const char **value);

void sl_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Each returns 0, or -1 after printing a usage error naming the flag. */
int sl_parse_u64(const char *cmd, const char *flag, const char *text, uint64_t min, uint64_t max,
                 uint64_t *out);
int sl_parse_unsigned(const char *cmd, const char *flag, const char *text, unsigned min,
                      unsigned max, unsigned *out);
int sl_parse_double(const char *cmd, const char *flag, const char *text, double min, double max,
                    double *out);
/* "MIN-MAX" or a single "N" (both ends N), milliseconds, MIN <= MAX. */
int sl_parse_range_ms(const char *cmd, const char *flag, const char *text, unsigned max,
                      unsigned *lo, unsigned *hi);

#endif
