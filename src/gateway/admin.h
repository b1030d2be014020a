/* The admin API (/admin/keys...): see admin.c. */
#ifndef SL_GW_ADMIN_H
#define SL_GW_ADMIN_H

struct sl_gateway;
struct sl_http_exchange;

/* Answers a request whose path starts with /admin (id: its request id). */
void sl__gw_admin(struct sl_gateway *gw, struct sl_http_exchange *down, const char *id);

#endif
