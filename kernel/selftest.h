/* In-kernel self-tests (test= on the command line) and QEMU power-off. */
#ifndef EXO_KERNEL_SELFTEST_H
#define EXO_KERNEL_SELFTEST_H

/* isa-debug-exit values; QEMU exits with status (value << 1) | 1. */
enum {
	QEMU_EXIT_PASS = 0x10,		/* status 33 */
	QEMU_EXIT_FAIL = 0x11,		/* status 35 */
	QEMU_EXIT_FATAL = 0x12,		/* status 37: halted after a fatal error */
	QEMU_EXIT_PROGRAM = 0x13,	/* status 39: the first program ended */
};

/* Set by kmain from test=; NULL when not in test mode. */
extern const char *selftest_mode;

/* Runs the test named by test= and powers off; returns only if unknown. */
void selftest_run(const char *name);

/* Called on a fatal error: in test mode, power QEMU off with FATAL. */
void selftest_on_fatal(void);

void qemu_exit(int value);

/* For the self-tests: records one check's result. */
void selftest_check(const char *name, int ok);

#endif
