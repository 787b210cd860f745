/* version: the one place the release number lives. */
#ifndef SHANHAI_VERSION_H
#define SHANHAI_VERSION_H
#define SHANHAI_VERSION "0.1.0"
#endif
