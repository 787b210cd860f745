/*
 * fnv: the FNV-1a hash of a string, for the open-addressing tables of
 * settle, journal and pagefile (slots and fingerprints, never anything
 * written out). Chain calls to hash several strings as one.
 */
#ifndef SHANHAI_FNV_H
#define SHANHAI_FNV_H

#include <stdint.h>

#define FNV1A_BASIS	0xcbf29ce484222325ULL

static inline uint64_t
fnv1a(uint64_t h, const char *s)
{
	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
	return h;
}

#endif
