/*
 * monitor: the daemon module behind GET /metrics (SPEC §7, operators only):
 * the Prometheus text format of the service's figures. It counts every
 * answer of the HTTPS front by route, method and status with its latency
 * (http_set_observer()), every committed group of the journal with its size
 * and fsync time (journal_set_observer()), and reads at each scrape the
 * version, uptime, connections, ledger size and latest checkpoint, the
 * agreements in force and when each was loaded, and their periods by
 * status. `shanhai status` prints the same for a person.
 */
#ifndef SHANHAI_MONITOR_H
#define SHANHAI_MONITOR_H

#include "shanhai/server.h"

/* Start it after the modules whose figures it reads (ingest). */
extern const struct server_module monitor_module;

#endif
