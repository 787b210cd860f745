/*
 * api: the daemon's own endpoints of SPEC §7 that need no store:
 * GET /healthz (no certificate needed) and GET /v1/agreements (any client).
 */
#ifndef SHANHAI_API_H
#define SHANHAI_API_H

#include "shanhai/server.h"

extern const struct server_module api_module;

#endif
