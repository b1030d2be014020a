#include "cli/listen.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "cli/args.h"

int sl_parse_listen(const char *cmd, const char *text, char *host, size_t host_size, int *port)
{
    const char *colon = strrchr(text, ':');
    const char *port_text = colon ? colon + 1 : text;
    size_t hlen = colon ? (size_t)(colon - text) : 0;
    const char *h = text;
    if (hlen >= 2 && h[0] == '[' && h[hlen - 1] == ']') {
        h++;
        hlen -= 2;
    }
    if (hlen == 0) {
        h = "127.0.0.1";
        hlen = strlen(h);
    }
    if (hlen >= host_size) {
        sl_usage_error(cmd, "--listen host is too long");
        return -1;
    }
    uint64_t p;
    if (sl_parse_u64(cmd, "--listen port", port_text, 0, 65535, &p) != 0)
        return -1;
    memcpy(host, h, hlen);
    host[hlen] = '\0';
    *port = (int)p;
    return 0;
}
