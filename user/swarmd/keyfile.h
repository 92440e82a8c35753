/*
 * Key, certificate and small state files of swarmd and swarm-ctl: text
 * files of "name hex" lines under a title line, written atomically
 * (temporary file, fsync, rename) with the mode asked for.  Secrets are
 * written 0600.  Formats: docs/PROTOCOL.md, "swarmd".
 */
#ifndef EXO_SWARMD_KEYFILE_H
#define EXO_SWARMD_KEYFILE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "net/identity.h"

enum { KF_MAX = 4096 };

/* What a node needs from its key file: identity and NERT static key. */
struct node_keys {
	struct swarm_identity ident;
	uint8_t nert_sk[CX_DH_BYTES];
};

/* Read a whole text file (at most KF_MAX - 1 bytes) into buf, NUL-ended. */
int kf_read(const char *path, char *buf, size_t cap);

/* Write len bytes to path atomically with the given mode; durable: fsync
 * first (keys, counters), else a reader still never sees half a file. */
int kf_write_bytes(const char *path, const void *data, size_t len, mode_t mode, int durable);

/* Write text to path atomically and durably with the given mode. */
int kf_write(const char *path, const char *text, mode_t mode);

/* Decode the hex value of line "name <hex>" in text into len bytes. */
int kf_get(const char *text, const char *name, uint8_t *out, size_t len);

/* Read the field name (len bytes) of the file at path. */
int kf_load(const char *path, const char *name, uint8_t *out, size_t len);

/* Append "name <hex>\n" to the text in buf (cap bytes in all). */
int kf_put(char *buf, size_t cap, const char *name, const uint8_t *in, size_t len);

/* A node key file: Ed25519 key pair, certificate, NERT X25519 secret. */
int kf_load_node(const char *path, struct node_keys *k);

/* A decimal counter file (missing: 0). */
int kf_read_u64(const char *path, uint64_t *v);
int kf_write_u64(const char *path, uint64_t v);

#endif
