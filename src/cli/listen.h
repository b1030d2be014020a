/* HOST:PORT parsing for --listen, shared by the server commands. */
#ifndef SL_LISTEN_H
#define SL_LISTEN_H

#include <stddef.h>

/* "127.0.0.1:8080", ":8080" (loopback), "8080", "[::1]:8080". Returns 0 or
 * -1 after a usage error naming the flag. */
int sl_parse_listen(const char *cmd, const char *text, char *host, size_t host_size, int *port);

#endif
