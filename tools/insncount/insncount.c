/*
 * insncount.so: a QEMU TCG plugin (system emulation, QEMU 7.2's plugin API,
 * version 1) that counts every guest instruction executed and records the
 * count each time the guest executes a marker instruction (insnmark.h):
 *
 *     qemu-system-x86_64 -plugin build/tools/insncount.so,out=FILE ...
 *
 * FILE gets one line "mark ID COUNT" per marker executed, in order, COUNT
 * being the instructions executed since the start up to and including the
 * marker, and "total COUNT" when QEMU exits.  Without out= the lines go to
 * QEMU's plugin log (stderr, or -D FILE with -d plugin).  At most max=N
 * mark lines are written (default 1,000,000, about 20 MB): a guest looping
 * on a marker must not fill the host's disk; past the limit one line
 * "dropped" says so and "total" still ends the file.
 *
 * Counting is an inline add of each translation block's length when the
 * block starts, so an idle CPU (hlt) counts nothing, whatever the clock
 * does.  A marker subtracts the instructions after it in its block, so it
 * is exact when the block runs to its end; a block left early (a fault
 * in it, an exception) counts whole.  One counter serves every vCPU, which
 * is exact with -smp 1 or under -icount (one thread runs all vCPUs); with
 * several vCPUs on several host threads (MTTCG) the adds race.
 *
 * The API's few types and functions are declared here, from QEMU's
 * documented plugin API (docs/devel/tcg-plugins.rst, qemu-plugin.h of 7.2):
 * Debian's QEMU loads plugins but ships no header.
 */
#include "insnmark.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

/* ---- QEMU's plugin API, version 1 (QEMU 6.0 to 7.2) */
typedef uint64_t qemu_plugin_id_t;
struct qemu_plugin_tb;
struct qemu_plugin_insn;
typedef struct {
	const char *target_name;
	struct {
		int min, cur;
	} version;
	bool system_emulation;
	union {
		struct {
			int smp_vcpus, max_vcpus;
		} system;
	};
} qemu_info_t;
enum qemu_plugin_cb_flags { QEMU_PLUGIN_CB_NO_REGS };
enum qemu_plugin_op { QEMU_PLUGIN_INLINE_ADD_U64 };
typedef void (*qemu_plugin_tb_trans_cb_t)(qemu_plugin_id_t id, struct qemu_plugin_tb *tb);
typedef void (*qemu_plugin_vcpu_udata_cb_t)(unsigned int vcpu_index, void *userdata);
typedef void (*qemu_plugin_udata_cb_t)(qemu_plugin_id_t id, void *userdata);

void qemu_plugin_register_vcpu_tb_trans_cb(qemu_plugin_id_t id, qemu_plugin_tb_trans_cb_t cb);
void qemu_plugin_register_vcpu_tb_exec_inline(struct qemu_plugin_tb *tb, enum qemu_plugin_op op,
					      void *ptr, uint64_t imm);
void qemu_plugin_register_vcpu_insn_exec_cb(struct qemu_plugin_insn *insn, qemu_plugin_vcpu_udata_cb_t cb,
					    enum qemu_plugin_cb_flags flags, void *userdata);
void qemu_plugin_register_atexit_cb(qemu_plugin_id_t id, qemu_plugin_udata_cb_t cb, void *userdata);
size_t qemu_plugin_tb_n_insns(const struct qemu_plugin_tb *tb);
struct qemu_plugin_insn *qemu_plugin_tb_get_insn(const struct qemu_plugin_tb *tb, size_t idx);
const void *qemu_plugin_insn_data(const struct qemu_plugin_insn *insn);
size_t qemu_plugin_insn_size(const struct qemu_plugin_insn *insn);
void qemu_plugin_outs(const char *string);

#define EXPORTED __attribute__((visibility("default")))
EXPORTED extern const int qemu_plugin_version;
EXPORTED const int qemu_plugin_version = 1;
EXPORTED int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info, int argc, char **argv);
/* ---- end of the API */

static uint64_t count;		/* instructions executed, all vCPUs */
static FILE *out;		/* NULL: qemu_plugin_outs */
static uint64_t marks_left = 1000000;	/* mark lines still allowed (max=) */

/* Writes one line to the output. */
static void emit(const char *line)
{
	if (out) {
		fputs(line, out);
		fflush(out);	/* a killed QEMU keeps the marks seen */
	} else {
		qemu_plugin_outs(line);
	}
}

/* A marker ran: userdata holds its id (low 16 bits) and how many
 * instructions follow it in its block, already counted. */
static void on_mark(unsigned int vcpu, void *userdata)
{
	uintptr_t u = (uintptr_t)userdata;
	char line[64];

	(void)vcpu;
	if (marks_left == 0)
		return;
	if (--marks_left == 0) {
		emit("dropped: max= mark lines written, the rest not recorded\n");
		return;
	}
	snprintf(line, sizeof line, "mark %u %" PRIu64 "\n", (unsigned)(u & 0xffff), count - (u >> 16));
	emit(line);
}

/* The marker's id if INSN is one (insnmark.h), or -1. */
static int mark_id(const struct qemu_plugin_insn *insn)
{
	const uint8_t *b = qemu_plugin_insn_data(insn);

	if (qemu_plugin_insn_size(insn) != 7 || b[0] != 0x0f || b[1] != 0x1f || b[2] != 0x80 ||
	    (b[5] | b[6] << 8) != INSNMARK_MAGIC)
		return -1;
	return b[3] | b[4] << 8;
}

/* A block is translated: count its length at its start, and watch its
 * markers. */
static void on_translate(qemu_plugin_id_t id, struct qemu_plugin_tb *tb)
{
	size_t n = qemu_plugin_tb_n_insns(tb);

	(void)id;
	qemu_plugin_register_vcpu_tb_exec_inline(tb, QEMU_PLUGIN_INLINE_ADD_U64, &count, n);
	for (size_t i = 0; i < n; i++) {
		struct qemu_plugin_insn *insn = qemu_plugin_tb_get_insn(tb, i);
		int m = mark_id(insn);
		if (m >= 0)
			qemu_plugin_register_vcpu_insn_exec_cb(insn, on_mark, QEMU_PLUGIN_CB_NO_REGS,
							       (void *)(((uintptr_t)(n - 1 - i) << 16) | (uintptr_t)m));
	}
}

static void on_qemu_exit(qemu_plugin_id_t id, void *userdata)
{
	char line[64];

	(void)id, (void)userdata;
	snprintf(line, sizeof line, "total %" PRIu64 "\n", count);
	emit(line);
	if (out)
		fclose(out);
	out = NULL;
}

/* Arguments: out=FILE (written from the start), max=N (mark lines). */
int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info, int argc, char **argv)
{
	if (!info->system_emulation || strcmp(info->target_name, "x86_64")) {
		fprintf(stderr, "insncount: only for qemu-system-x86_64\n");
		return -1;
	}
	for (int i = 0; i < argc; i++) {
		if (!strncmp(argv[i], "out=", 4) && !out) {
			out = fopen(argv[i] + 4, "w");
			if (!out) {
				perror(argv[i] + 4);
				return -1;
			}
		} else if (!strncmp(argv[i], "max=", 4) && argv[i][4]) {
			char *end;
			marks_left = strtoull(argv[i] + 4, &end, 10) + 1;	/* +1: the "dropped" line's turn */
			if (*end) {
				fprintf(stderr, "insncount: max= takes a number\n");
				return -1;
			}
		} else {
			fprintf(stderr, "insncount: unknown argument '%s' (takes out=FILE, max=N)\n", argv[i]);
			return -1;
		}
	}
	qemu_plugin_register_vcpu_tb_trans_cb(id, on_translate);
	qemu_plugin_register_atexit_cb(id, on_qemu_exit, NULL);
	return 0;
}
