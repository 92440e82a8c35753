/*
 * The library OS around net/lwip/socket.c on the host (socket_shim.c):
 * what the socket fuzzer drives the calls through.
 */
#ifndef EXO_TESTS_SOCKET_SHIM_H
#define EXO_TESTS_SOCKET_SHIM_H

#include <stdint.h>

#define SHIM_USER_SIZE 65536		/* the program's memory */
#define SHIM_FDS 16			/* descriptors */
#define SHIM_MAX_WAITS 6000		/* 100 ms each: a call waiting 10 minutes is stuck */

extern uint8_t shim_user[SHIM_USER_SIZE];

/* Closes a descriptor (the last one releases the socket): 0 or -EBADF. */
int shim_close(int fd);
/* Starts counting a call's waits. */
void shim_call_begin(void);

#endif
