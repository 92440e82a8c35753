/*
 * An in-memory model of a CryptoFS namespace and a random operation
 * generator: each step performs one mutating call on the file system and on
 * the model, and checks that both agree on the result and the touched path.
 */
#ifndef EXO_TESTS_FS_MODEL_H
#define EXO_TESTS_FS_MODEL_H

#include <stdbool.h>
#include <stdint.h>
#include "fs/cfs.h"

enum { MODEL_MAX_NODES = 200, MODEL_MAX_FILE = 65536, MODEL_PATH = 64 };

struct model_node {
	char path[MODEL_PATH];
	uint32_t type;              /* CFS_S_IFREG / IFDIR / IFLNK */
	uint8_t *data;
	uint64_t size;
	char target[MODEL_PATH];
};

struct model {
	struct model_node nodes[MODEL_MAX_NODES];
	int n;
	uint64_t rng;
	char last_op[160];
	bool ok_flag;
	long mutations;             /* steps whose expected result was success */
};

void model_init(struct model *m, uint64_t seed);
void model_free(struct model *m);
/* One random mutating step; returns false (with m->last_op describing it)
 * when the file system disagrees with the model. */
bool model_step(struct model *m, struct cfs *fs);
/* Full comparison of every path, both directions. */
bool model_verify_all(struct model *m, struct cfs *fs);
/* An order-independent digest of the model's namespace and contents, and
 * the same digest computed from a mounted file system. */
uint64_t model_digest(const struct model *m);
int fs_digest(struct cfs *fs, uint64_t *out);

#endif
