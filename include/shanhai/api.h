/*
 * api: the daemon's own endpoints of SPEC §7 that need no store:
 * GET /healthz (no certificate needed) and GET /v1/agreements (any client).
 */
#ifndef SHANHAI_API_H
#define SHANHAI_API_H

#include "shanhai/server.h"

struct config_client;
struct rules;

extern const struct server_module api_module;

/*
 * May this client see agreement a? A bureau sees only the agreements it is
 * a side of (SPEC §7: every path under another answers 404); auditors and
 * operators see all.
 */
int	api_client_sees(const struct config_client *cl, const struct rules *a);

#endif
