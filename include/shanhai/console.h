/*
 * console: the web console's static files (console/, built into
 * console_dir by `make console`) served by shanhaid on its own listener,
 * under the client-certificate rules of the API, and GET /v1/whoami, the
 * one thing the console needs that the API did not say: who the
 * certificate is.
 *
 *	GET /			303 to /console/
 *	GET /console/		index.html, no-cache
 *	GET /console/{file}	a built file; content-hashed names immutable
 *	GET /v1/whoami		{"name","role","codes","fingerprint"}
 *
 * A browser without a certificate, or with one no `clients` entry maps,
 * gets a plain 403 page naming the CA whose certificate is needed and the
 * fingerprint it presented, and nothing else. Every file goes out with a
 * strict Content-Security-Policy (only this origin; no inline script or
 * style), nosniff, and its type from its extension.
 */
#ifndef SHANHAI_CONSOLE_H
#define SHANHAI_CONSOLE_H

#include "shanhai/server.h"

extern const struct server_module console_module;

/* The policy every console answer carries. */
#define CONSOLE_CSP	"default-src 'none'; script-src 'self'; " \
	"style-src 'self'; img-src 'self' data:; connect-src 'self'; " \
	"font-src 'self'; base-uri 'none'; form-action 'self'; " \
	"frame-ancestors 'none'"

/*
 * Is name a file the console may serve: one path segment of
 * [A-Za-z0-9._-], starting with a letter or digit, at most 128 bytes, with
 * a known type? Returns its Content-Type, or NULL when it is not.
 */
const char	*console_file_type(const char *name);
/*
 * Is name content-hashed ("app-5ZQH2K7A.js": a dash, 8 characters of
 * [A-Z0-9], then the extension), so that it may be cached for good? 1 or 0.
 */
int		 console_file_immutable(const char *name);

#endif
