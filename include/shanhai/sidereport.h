/*
 * sidereport: GET /v1/agreements/{id}/periods/{period}/reports/{role}, the
 * latest report a side sent for a period, exactly as it is in the ledger.
 * A bureau writing a correction must name the report it replaces
 * (supersedes) and usually changes only a figure or two of it; the period
 * endpoint gives the report's hash only, and the ledger's entries are for
 * auditors and operators. Any client that sees the agreement may read it
 * (a bureau: only its own agreements, else 404):
 *
 *	{"index":4,"sha256":"f285…","time":"2026-01-10T08:00:00Z",
 *	 "report":{"agreement":"kecheng-yuhang","period":"2026-01",…}}
 *
 * 404 when the side has sent no report for the period.
 */
#ifndef SHANHAI_SIDEREPORT_H
#define SHANHAI_SIDEREPORT_H

#include "shanhai/server.h"

extern const struct server_module sidereport_module;

#endif
